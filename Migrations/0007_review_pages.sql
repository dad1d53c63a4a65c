-- Issue 14: the review pages. Identical utterances are found by their exact text (a hash index:
-- a btree entry cannot hold a 2,000-character utterance), and the queue counts today's verdicts.
CREATE INDEX predictions_text_hash ON predictions USING hash (text);
CREATE INDEX feedback_created ON feedback (created_at) WHERE prediction_id IS NOT NULL;
