"""`python -m privacyops.cli …` is the same as `privacyops …`."""

from .app import main

main()
