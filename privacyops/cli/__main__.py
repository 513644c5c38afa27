"""`python -m privacyops.cli …` is the same as `privacyops …`."""

from . import main

main()
