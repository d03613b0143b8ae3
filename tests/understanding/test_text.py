from voice_app.understanding.text import lowercase_words


def test_normalise_strips_punctuation_and_case():
    assert lowercase_words("  Yes,   PLEASE! ") == "yes please"
    assert lowercase_words("Das war’s.") == "das war's"
