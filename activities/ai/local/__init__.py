"""The offline provider: scikit-learn models trained at first use from the shipped data."""
