"""The pages' routes: what each URL renders, for whom."""
