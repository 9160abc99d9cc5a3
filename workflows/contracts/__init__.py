"""Models and names shared by workflows, activities and the API (stdlib + pydantic only)."""
