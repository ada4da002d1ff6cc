"""The example's G and D symbols, and the Modules they are bound and initialized into."""
