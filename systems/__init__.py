"""The enterprise-systems sandbox: a stand-in CRM, ERP, MES, finance and notification service."""
