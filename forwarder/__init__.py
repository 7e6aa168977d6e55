"""forwarder: routes citizen complaints (pengaduan) to the officer group chats that must act.

Complaints arrive from source pollers (Gammu SMSD's SQL inbox, an X handle), are stored once in
SQLite, tagged with a topic and a confidence by a trained classifier, matched to the officer
groups of ``config/groups.yaml`` and delivered through sink adapters (Telegram, console, ...).
Low-confidence or unmatched complaints go to the triage (fallback) group, never nowhere.
"""

__version__ = "0.1.0"
