"""The client link page (``/?link=TOKEN``): one shared collection, nothing else of the studio
(``widgets/client_view.py``). main.py runs it instead of the sign-in gate when the URL holds ``link``."""

from __future__ import annotations

from studio.app.widgets import client_view

client_view.show()
