from voice_app.pseudonyms import UNKNOWN_CALLER, normalise_phone_number, pseudonymise

KEY = "k" * 40


def test_the_same_number_in_any_spelling_gets_the_same_pseudonym():
    assert normalise_phone_number("+49 151 1234 5678") == "+4915112345678"
    assert pseudonymise("+49 (151) 1234-5678", KEY) == pseudonymise("+4915112345678", KEY)


def test_the_pseudonym_depends_on_the_key_and_hides_the_number():
    pseudonym = pseudonymise("+4915112345678", KEY)
    assert len(pseudonym) == 64 and "4915112345678" not in pseudonym
    assert pseudonym != pseudonymise("+4915112345678", "x" * 40)
    assert pseudonym != pseudonymise("+4915112345679", KEY)


def test_withheld_and_invalid_numbers():
    for raw in ("anonymous", "", "+266696687", "client:alice", "+1", "   "):
        assert pseudonymise(raw, KEY) == UNKNOWN_CALLER
