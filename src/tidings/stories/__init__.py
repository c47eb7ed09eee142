"""Stories and tags (SPEC §10), the pure core: near-duplicate grouping in `tidings.stories.near`
(fingerprint, band_keys, similarity, same_story, Grouper) and keywords in `tidings.stories.keywords`.

Nothing is imported here, so `keywords` does not pay for numpy and rensa, nor `near` for jieba; the
store persists fingerprints and band keys and applies the same story rule as `near.Grouper`.
"""
