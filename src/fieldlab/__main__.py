from fieldlab.cli import app

app(prog_name="fieldlab")
