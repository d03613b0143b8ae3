from concurrent.futures import ThreadPoolExecutor

import snowballstemmer

from voice_app.understanding.text import lowercase_words, stemmed_words


def test_normalise_strips_punctuation_and_case():
    assert lowercase_words("  Yes,   PLEASE! ") == "yes please"
    assert lowercase_words("Das war’s.") == "das war's"


def test_inflected_german_words_share_a_stem():
    assert stemmed_words("Ich bezahle") == stemmed_words("ich bezahlen") == ["ich", "bezahl"]
    assert stemmed_words("Rechnungen, Rechnung!") == ["rechnung", "rechnung"]
    assert stemmed_words("a b") == []


def test_stems_are_the_same_from_many_threads():
    # Words never stemmed before in this process, so that the threads run their stemmers, not the cache.
    prefixes = [first + second for first in "bcdfgklmnprstvwz" for second in "aeiou"]
    texts = [f"{prefix}rechnungen {prefix}zahlungen" for prefix in prefixes]
    one_stemmer = snowballstemmer.stemmer("german")
    expected = [one_stemmer.stemWords(text.split()) for text in texts]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(stemmed_words, texts))

    assert results == expected
    assert expected[0] == ["barechn", "bazahl"]
