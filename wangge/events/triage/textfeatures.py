"""Words of a report's text for the classifier (issue 18 C6).

Stored models name `words` by this module path when they are unpickled: keep the name and the place.
"""

from __future__ import annotations

import logging


def words(text: str) -> list[str]:
    """The text cut into words by jieba in search mode (a long word also yields the words inside it:
    "城乡建设局" gives 城乡, 建设, 建设局; 垃圾桶 gives 垃圾 too), spaces dropped. Character n-grams alone miss where a
    word begins and ends; words alone miss rare spellings; the model uses both."""
    import jieba  # a dictionary of ~350k words, loaded on the first cut (the web process warms it)

    jieba.setLogLevel(logging.WARNING)
    return [w for w in jieba.lcut_for_search(text) if w.strip()]
