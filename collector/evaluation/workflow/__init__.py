"""The monthly workflow: self-evaluation, the leader's review, the head's decision, due dates."""
