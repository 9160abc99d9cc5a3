from core.cli import app

app()
