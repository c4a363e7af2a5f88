"""Reliability tests: real outages, kills, poison input and load against real workers, PostgreSQL and Redis."""
