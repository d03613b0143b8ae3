"""Figures about the hotline as a whole, for the dashboard: counted from the call records, never from what callers
said."""
