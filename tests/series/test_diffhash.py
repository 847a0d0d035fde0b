"""Normalised diffs: a rebase (blob ids, hunk positions) is no change; an edited line is."""

from __future__ import annotations

from bot.series.diffhash import changed_files, diff_hash, normalised_files

BODY = """Commit message.

Signed-off-by: A <a@x>
---
 a.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/a.c b/a.c
index {blob}..1111111 100644
--- a/a.c
+++ b/a.c
@@ -{line},7 +{line},7 @@ static int {func}(void)
 context
-old
+{new}
 context
diff --git a/b.c b/b.c
index 2222222..3333333 100644
--- a/b.c
+++ b/b.c
@@ -1 +1 @@
-x
+y
-- 
2.{git}
"""


def _files(**kw: str) -> dict[str, str]:
    values = {"blob": "aaaaaaa", "line": "10", "func": "foo", "new": "new", "git": "43.0"} | kw
    return normalised_files(BODY.format(**values))


def test_a_rebase_changes_nothing_and_an_edit_names_its_file() -> None:
    base = _files()
    assert set(base) == {"a.c", "b.c"}
    rebased = _files(blob="bbbbbbb", line="250", func="bar", git="47.1")
    assert rebased == base and diff_hash(rebased) == diff_hash(base) is not None
    edited = _files(new="newer")
    assert diff_hash(edited) != diff_hash(base)
    assert changed_files(edited, base) == ("a.c",)
    assert normalised_files("no diff here\n") == {} and diff_hash({}) is None
