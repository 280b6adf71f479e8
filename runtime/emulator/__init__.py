"""The Messenger emulator: a page on the server that plays Messenger for the bot.

`runtime emulator` (and `runtime serve --emulator`, on loopback only) serves `/emulator`: a
person's taps and texts there become signed webhook POSTs to the server's own webhook, so they
take the real road (signature check, access policy, store, worker, engine, sender), and the
runtime's Graph API calls go to a stand-in on the same server (`/emulator/graph/`), whose
record of each person's messages the page reads by long poll. Nothing reaches Meta.

settings.py (what emulator mode changes) · app.py (its routes and listeners on the app) ·
routes.py (the page and its API) · graph_standin.py (the Graph API) · streams.py (each
person's events) · webhooks.py (the POSTs Meta would make) · bot_info.py (the profile shown)
"""
