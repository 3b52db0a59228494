from srlm.cli import app

app(prog_name="srlm")
