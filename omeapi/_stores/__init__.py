"""Persistence of API-created resources.

The layers, each importing only those after it: :mod:`~omeapi._stores.open` (choosing a store)
→ :mod:`~omeapi._stores.sqlite` / :mod:`~omeapi._stores.postgres` → :mod:`~omeapi._stores.sql`
(what the two share) → :mod:`~omeapi._stores.memory` / :mod:`~omeapi._stores.base` (the
interface and its values).  This package module imports none of them, so importing the
interface never loads a database driver.
"""
