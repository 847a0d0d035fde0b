r"""kvm-patchbot: follows the Linux KVM mailing list and posts series to Discord.

Stages, each a sub-package, data flowing one way (a package imports only
those before it):

    ingest -> mail -> series -> store -> notify -> discord
                                  \-> digest

`ingest` receives raw bytes (SMTP sink, mbox, public-inbox) and hands them to
a callback; `mail` parses bytes into models without I/O; `series` decides
grouping and versions; `store` persists mail, series and the event outbox;
`notify` routes events to subscriptions, renders posts and delivers them
exactly once to a sink (`notify.delivery`); `discord` is that sink on
discord.py, with the client and its cogs. `cli`, `app` and `delivery` (which
picks the sink: Discord or preview) wire the stages together.
"""
