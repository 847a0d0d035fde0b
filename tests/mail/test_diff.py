"""Diffs: where they start, the diffstat block, the diffstat computed from the diff."""

from __future__ import annotations

import pytest

from bot.mail.diff import (
    compute_diffstat,
    diffstat_mismatches,
    find_diff,
    parse_diffstat_block,
    separator_before,
)

MODIFY = """\
diff --git a/arch/x86/kvm/x86.c b/arch/x86/kvm/x86.c
index 1111111..2222222 100644
--- a/arch/x86/kvm/x86.c
+++ b/arch/x86/kvm/x86.c
@@ -10,7 +10,8 @@ static int foo(void)
 	int a;
-	int b;
+	long b;
+	long c;
 
 	return 0;
 }
@@ -40,3 +41,2 @@ static int bar(void)
 	x = 1;
-	y = 2;
 	return x;
"""

RENAME_ONLY = """\
diff --git a/virt/kvm/arm/aarch32.c b/arch/arm64/kvm/aarch32.c
similarity index 100%
rename from virt/kvm/arm/aarch32.c
rename to arch/arm64/kvm/aarch32.c
"""

MODE_ONLY = """\
diff --git a/scripts/foo.sh b/scripts/foo.sh
old mode 100644
new mode 100755
"""

NEW_EMPTY = """\
diff --git a/tools/testing/selftests/kvm/.gitignore b/tools/testing/selftests/kvm/.gitignore
new file mode 100644
index 0000000..e69de29
"""

BINARY_ADD = """\
diff --git a/pixel.bmp b/pixel.bmp
new file mode 100644
index 0000000000000000000000000000000000000000..9710347a13c4336e7dbaafa69af0e44a40c21172
GIT binary patch
literal 142
zcmZ?r?PGv|E+AC{#Eft(0hV9^lFE7z3>E+r{}~t{2+VVG4=P5;5yxUeQzj#`nE?RC
Ceh3`^

literal 0
HcmV?d00001

"""

BINARY_CHANGE = """\
diff --git a/logo.png b/logo.png
index 1234567..89abcde 100644
Binary files a/logo.png and b/logo.png differ
"""

NO_NEWLINE = """\
diff --git a/README b/README
index 1111111..2222222 100644
--- a/README
+++ b/README
@@ -1,2 +1,2 @@
 hello
-world
\\ No newline at end of file
+world!
\\ No newline at end of file
"""

PLAIN_U = """\
diff -urN linux.orig/drivers/foo.c linux/drivers/foo.c
--- linux.orig/drivers/foo.c\t2020-01-01 00:00:00.000000000 +0000
+++ linux/drivers/foo.c\t2020-01-02 00:00:00.000000000 +0000
@@ -1,3 +1,4 @@
 a
+b
 c
 d
"""

CVS = """\
Index: src/main.c
===================================================================
RCS file: /cvs/src/main.c,v
retrieving revision 1.2
diff -u -r1.2 main.c
--- src/main.c\t1 Jan 2008 00:00:00 -0000\t1.2
+++ src/main.c\t2 Jan 2008 00:00:00 -0000
@@ -1,3 +1,3 @@
 int main(void)
-{ return 1; }
+{ return 0; }
 /* end */
"""

SIGNATURE = "-- \n2.49.0\n"


def _stat(diff: str) -> list[tuple[str, int, int, bool, str | None]]:
    ds = compute_diffstat(diff)
    assert ds is not None
    assert ds.files == len(ds.per_file)
    assert ds.insertions == sum(e.insertions for e in ds.per_file)
    assert ds.deletions == sum(e.deletions for e in ds.per_file)
    return [(e.path, e.insertions, e.deletions, e.binary, e.old_path) for e in ds.per_file]


@pytest.mark.parametrize(
    ("diff", "expected"),
    [
        (MODIFY, [("arch/x86/kvm/x86.c", 2, 2, False, None)]),
        # the last hunk runs into the signature: counted by its header, not the "-- " line
        (MODIFY + SIGNATURE, [("arch/x86/kvm/x86.c", 2, 2, False, None)]),
        (RENAME_ONLY, [("arch/arm64/kvm/aarch32.c", 0, 0, False, "virt/kvm/arm/aarch32.c")]),
        (MODE_ONLY, [("scripts/foo.sh", 0, 0, False, None)]),
        (NEW_EMPTY, [("tools/testing/selftests/kvm/.gitignore", 0, 0, False, None)]),
        (BINARY_ADD, [("pixel.bmp", 0, 0, True, None)]),
        (BINARY_CHANGE, [("logo.png", 0, 0, True, None)]),
        (NO_NEWLINE, [("README", 1, 1, False, None)]),
        (PLAIN_U, [("drivers/foo.c", 1, 0, False, None)]),
        (CVS, [("src/main.c", 1, 1, False, None)]),
        (
            MODIFY + RENAME_ONLY + BINARY_CHANGE + SIGNATURE,
            [
                ("arch/x86/kvm/x86.c", 2, 2, False, None),
                ("arch/arm64/kvm/aarch32.c", 0, 0, False, "virt/kvm/arm/aarch32.c"),
                ("logo.png", 0, 0, True, None),
            ],
        ),
    ],
    ids=["modify", "signature", "rename-only", "mode-only", "new-empty", "binary-add",
         "binary-change", "no-newline", "diff-u", "cvs", "mixed"],
)
def test_computed_diffstat(diff: str, expected: list) -> None:
    assert _stat(diff) == expected


def test_deleted_lines_that_look_like_headers_are_counted() -> None:
    # a removed line "-- x" and an added line "++ y" read like a ---/+++ pair
    diff = """\
diff --git a/doc.txt b/doc.txt
index 1..2 100644
--- a/doc.txt
+++ b/doc.txt
@@ -1,3 +1,3 @@
 title
--- x
+++ y
 end
"""
    assert _stat(diff) == [("doc.txt", 1, 1, False, None)]


def test_noprefix_and_quoted_paths() -> None:
    diff = 'diff --git "a/dir/na\\303\\257ve.c" "b/dir/na\\303\\257ve.c"\nindex 1..2 100644\n'
    assert _stat(diff) == [("dir/naïve.c", 0, 0, False, None)]
    noprefix = "diff --git pixel.bmp pixel.bmp\nnew file mode 100644\nGIT binary patch\nliteral 1\nIcmZ?r\n\n"
    assert _stat(noprefix) == [("pixel.bmp", 0, 0, True, None)]


BLOCK = """\
Some change.

Signed-off-by: A U Thor <author@example.com>
---
 arch/x86/kvm/x86.c                            |  4 ++--
 {virt/kvm/arm => arch/arm64/kvm}/aarch32.c    |  0
 .../kvm/arm => arch/arm64/kvm}/hyp/timer-sr.c |  0
 .../selftests/kvm/include/very_long_name.h    | 12 ++++++++++--
 pixel.bmp                                     | Bin 0 -> 142 bytes
 scripts/foo.sh                                |  0
 old.c => new.c                                |  3 ++-
 7 files changed, 13 insertions(+), 6 deletions(-)
 create mode 100644 pixel.bmp
 rename {virt/kvm/arm => arch/arm64/kvm}/aarch32.c (100%)
 mode change 100644 => 100755 scripts/foo.sh

diff --git a/x b/x
"""


def test_diffstat_block_forms() -> None:
    ds = parse_diffstat_block(BLOCK, 0, BLOCK.index("diff --git"))
    assert ds is not None
    assert (ds.files, ds.insertions, ds.deletions) == (7, 13, 6)
    got = [(e.path, e.insertions + e.deletions, e.binary, e.old_path) for e in ds.per_file]
    assert got == [
        ("arch/x86/kvm/x86.c", 4, False, None),
        ("arch/arm64/kvm/aarch32.c", 0, False, "virt/kvm/arm/aarch32.c"),
        (".../arch/arm64/kvm/hyp/timer-sr.c", 0, False, None),
        (".../selftests/kvm/include/very_long_name.h", 12, False, None),
        ("pixel.bmp", 0, True, None),
        ("scripts/foo.sh", 0, False, None),
        ("new.c", 3, False, "old.c"),
    ]
    # an unscaled bar gives exact per-file +/-
    assert (ds.per_file[0].insertions, ds.per_file[0].deletions) == (2, 2)
    assert (ds.per_file[3].insertions, ds.per_file[3].deletions) == (10, 2)


def test_summary_without_counts_and_singular_forms() -> None:
    text = " README | 1 +\n 1 file changed, 1 insertion(+)\n"
    ds = parse_diffstat_block(text)
    assert ds is not None and (ds.files, ds.insertions, ds.deletions) == (1, 1, 0)
    only_del = " a | 2 --\n 1 file changed, 2 deletions(-)\n"
    ds = parse_diffstat_block(only_del)
    assert ds is not None and (ds.insertions, ds.deletions) == (0, 2)


def test_block_and_diff_agree_as_git_means_it() -> None:
    text = (
        "---\n arch/x86/kvm/x86.c | 4 ++--\n 1 file changed, 2 insertions(+), 2 deletions(-)\n\n"
        + MODIFY
        + SIGNATURE
    )
    block = parse_diffstat_block(text, 0, find_diff(text))
    computed = compute_diffstat(text, find_diff(text))
    assert block is not None and computed is not None
    assert diffstat_mismatches(block, computed) == []
    edited = parse_diffstat_block(text.replace("| 4 ++--", "| 5 +++--").replace("2 insertions", "3 insertions"))
    assert edited is not None
    problems = diffstat_mismatches(edited, computed)
    assert any("totals" in p for p in problems) and any("5 != 4" in p for p in problems)


def test_shortened_path_matches_by_suffix() -> None:
    text = (
        "---\n .../kvm/x86.c | 4 ++--\n 1 file changed, 2 insertions(+), 2 deletions(-)\n\n" + MODIFY
    )
    block = parse_diffstat_block(text, 0, find_diff(text))
    computed = compute_diffstat(text, find_diff(text))
    assert diffstat_mismatches(block, computed) == []
    wrong = text.replace(".../kvm/x86.c", ".../kvm/svm.c")
    assert diffstat_mismatches(parse_diffstat_block(wrong, 0, find_diff(wrong)), computed) == [
        "path .../kvm/svm.c != arch/x86/kvm/x86.c"
    ]


def test_format_patch_irreversible_delete() -> None:
    text = (
        "---\n gone.c | 120 ----------\n 1 file changed, 120 deletions(-)\n\n"
        "diff --git a/gone.c b/gone.c\ndeleted file mode 100644\nindex 1234567..0000000\n"
    )
    unknown: list[str] = []
    computed = compute_diffstat(text, find_diff(text), unknown)
    assert unknown == ["gone.c"]
    assert diffstat_mismatches(parse_diffstat_block(text), computed, unknown) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("intro\n" + MODIFY, True),
        ("intro\n" + PLAIN_U, True),
        ("intro\n" + CVS, True),
        ("> diff --git a/x b/x\n> --- a/x\n> +++ b/x\n> @@ -1 +1 @@\n", False),
        ("Some text\n---\nmore text with --- dashes\n", False),
        ("  diff --git a/x b/x\n", False),  # an indented interdiff
        ("prose about diff -u output\n", False),
    ],
)
def test_find_diff(text: str, found: bool) -> None:
    pos = find_diff(text)
    assert (pos != -1) is found
    if found:
        assert text[pos - 1] == "\n"


def test_separator_before() -> None:
    text = "msg\n---\nnotes\n----\n--- \nstat\ndiff --git a/x b/x\n"
    end = text.index("diff")
    assert separator_before(text, end) == text.index("--- \n")
    assert separator_before("no separator\n", 12) == -1
