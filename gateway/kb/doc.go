// Package kb ranks knowledge-base articles against a new ticket (SPEC 7,
// issue 15 item 4): the acknowledgement suggests up to three.
//
// The package is pure: Parse turns an article's text into an Article,
// Build indexes a set of them, Suggest ranks them for a ticket's subject
// and body. Reading the folder is the caller's business (gateway/mailtext
// loads it at start and on SIGHUP, never per mail), so ranking is a
// function of its inputs and is tested as one.
//
// Tokens: text is lowercased and split into runs of letters and digits.
// A run of Hangul, Han, Hiragana or Katakana becomes its overlapping
// character bigrams (a lone character is its own token): Korean glues
// particles to words ("비밀번호를", "비밀번호가") and has no reliable word
// boundary without a dictionary, and bigrams match across those endings.
// Any other run is one word, dropped when it is on a small English stop
// list or a single letter.
//
// Ranking is Okapi BM25 (k1 1.2, b 0.75) over each article's title
// (counted twice: a title says what the article is about) and body. An
// article is suggested only when its score reaches the minimum and at
// least two distinct query tokens matched it: one shared word ("account",
// "help") is not relevance, and an unrelated ticket gets no suggestion.
package kb
