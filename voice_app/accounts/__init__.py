"""Customer accounts: the directory interface the assistant reads through, and demo tables behind it."""
