"""The assistant's side of compliance: what its tables hold about calls and callers, fed to `consent`."""
