"""Release rails: a model moves from one environment to another the way code does, pinned in
git by its lock (:mod:`mlrails.promotion.lock`), its files copied through a write-once store."""
