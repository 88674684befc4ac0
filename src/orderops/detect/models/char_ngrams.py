"""The text features both text classifiers share: character n-grams within word boundaries.

No tokenizer, stemmer or stop-word list for any one language, so the same features serve
Portuguese reviews and English, Spanish or German tickets, and shrug off typos and missing
accents; TF-IDF weighted with sublinear term frequency.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer


def char_ngram_tfidf(*, min_n: int, max_n: int, min_df: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(min_n, max_n),
        min_df=min_df,
        sublinear_tf=True,
        strip_accents="unicode",
        lowercase=True,
    )
