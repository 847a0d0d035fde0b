"""The "KVM mailing list update" digest: a pure report over a window of mails.

`render.render_digest(window, mails)` builds the text from typed inputs
(`model.Window`, `model.DigestMail`); `source` reads those from the store.
"""
