-- Issue 14, item 4: an admin decides each proposed intent with its context. Merging a proposal
-- into an active intent moves its feedback there and keeps the proposal as 'rejected', naming
-- where it went (merged_into; an import may re-activate the name later, so no CHECK ties the two).
ALTER TABLE intents ADD COLUMN merged_into text REFERENCES intents (name);

-- The intents page counts and lists each proposal's latest utterances, a rename or a merge
-- re-points them, and removing a renamed intent's row checks that nothing names it: all by intent.
CREATE INDEX feedback_intent ON feedback (intent, created_at DESC, id DESC);
