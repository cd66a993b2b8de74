"""The console script's entry point; it imports nothing until it runs.

multiprocessing starts the audio pool's workers (forkserver, spawn) by running the parent's
main module again as ``__mp_main__``. Under `voicememo serve` that module is the console
script, and all it imports is this one: the workers get neither typer nor the CLI.
"""


def main() -> None:
    from voicememo.cli.app import app

    app()
