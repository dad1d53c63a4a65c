// Shape letters used by every kernel in this module (after llm.c):
//   N  rows of a packed activation block: the tokens of every sequence in a batch, back to back
//   B  sequences in a batch;  L  tokens of one sequence (its own length, no padding)
//   C  model channels (hidden size);  H  attention heads;  D = C / H  channels per head
//   F  feed-forward channels (intermediate size);  V  vocabulary size
// Activations are row-major: a block "[N, C]" is N rows of C contiguous Floats.
// Every layer is a pair `xxxForward` / `xxxBackward`; outputs come first in the argument list,
// backward functions accumulate (+=) into gradient buffers so that one buffer can collect the
// gradient of several consumers. Shapes are checked with `precondition` at entry.
