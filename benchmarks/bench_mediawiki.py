"""MediaWiki markup to plain text: MB/s of ``wikitext_to_plain`` on article-like markup
(prose, nested templates, a table, links, references) made by this script.

    python benchmarks/bench_mediawiki.py --megabytes 20

A full English dump holds ~90 GB of markup: at N MB/s the cleanup alone takes 90,000/N s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from seqens.readers import wikitext_to_plain  # noqa: E402

ARTICLE = (
    "'''Arabidopsis''' is a [[genus]] of [[flowering plant|flowering plants]] in the family "
    "[[Brassicaceae]].{{cite web|url=https://example.org|title=A {{nested|template}} title}}"
    "<ref>{{cite journal|title=Plants}}</ref> It is a model organism.\n"
    "== Description ==\n{| class=\"wikitable\"\n|-\n| leaf || rosette\n|}\n"
    "* a list item with a [https://example.org link]\n<!-- a comment -->\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=20)
    args = parser.parse_args()
    articles = [ARTICLE * 40] * max(1, int(args.megabytes * 1e6 / (len(ARTICLE) * 40)))
    size = sum(map(len, articles))
    started = time.perf_counter()
    for article in articles:
        wikitext_to_plain(article)
    seconds = time.perf_counter() - started
    print(f"{'markup MB':>10} {'seconds':>8} {'MB/s':>8} {'full dump (90 GB) hours':>24}")
    print(f"{size / 1e6:10.1f} {seconds:8.1f} {size / 1e6 / seconds:8.1f} {90e3 / (size / 1e6 / seconds) / 3600:24.1f}")


if __name__ == "__main__":
    main()
