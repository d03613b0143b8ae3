"""Spoken answers: amounts and dates as people say them, and short replies to account questions."""
