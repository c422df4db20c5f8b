package kb

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Article is one Markdown file of the knowledge base.
type Article struct {
	// Name is the file's path inside the knowledge-base folder.
	Name string
	// Title is the text of the first heading (the name without its
	// extension when there is none).
	Title string
	// URL is the front matter's url: (where customers read it), "" when
	// absent.
	URL string
	// Body is the text after the front matter.
	Body string
}

// Parse reads an article: optional front matter between "---" lines
// (only url: is used), then Markdown whose first ATX heading ("# ...") or
// setext heading is the title.
func Parse(name, text string) Article {
	a := Article{Name: name}
	text = strings.TrimPrefix(text, "\ufeff")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if rest, ok := strings.CutPrefix(text, "---\n"); ok {
		if fm, body, ok := strings.Cut(rest, "\n---\n"); ok {
			text = body
			for _, line := range strings.Split(fm, "\n") {
				k, v, ok := strings.Cut(line, ":")
				if ok && strings.EqualFold(strings.TrimSpace(k), "url") {
					a.URL = strings.Trim(strings.TrimSpace(v), `"'`)
				}
			}
		}
	}
	a.Body = text
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") {
			if h := strings.TrimSpace(strings.Trim(strings.TrimLeft(t, "#"), "# ")); h != "" {
				a.Title = h
				break
			}
		}
		if t != "" && i+1 < len(lines) {
			if u := strings.TrimSpace(lines[i+1]); len(u) >= 2 && (strings.Trim(u, "=") == "" || strings.Trim(u, "-") == "") {
				a.Title = t
				break
			}
		}
	}
	if a.Title == "" {
		base := name[strings.LastIndexByte(name, '/')+1:]
		a.Title = strings.TrimSuffix(base, ".md")
	}
	return a
}

// Hit is one suggested article with its score.
type Hit struct {
	Article *Article
	Score   float64
}

// Index is a built knowledge base; it is read-only once built and safe
// for concurrent use.
type Index struct {
	docs  []doc
	df    map[string]int
	avgdl float64
}

type doc struct {
	art Article
	tf  map[string]int
	len int
}

// Params of BM25.
const (
	k1 = 1.2
	b  = 0.75
	// titleWeight: the title's tokens count this many times.
	titleWeight = 2
	// minMatched is the fewest distinct query tokens an article must
	// share with the ticket to be suggested.
	minMatched = 2
)

// DefaultMinScore is the score an article must reach when the
// configuration names none ([knowledge_base] min_score): about two rare
// words of the ticket in the article.
const DefaultMinScore = 1.5

// Build indexes the articles.
func Build(arts []Article) *Index {
	ix := &Index{df: map[string]int{}}
	total := 0
	for _, a := range arts {
		d := doc{art: a, tf: map[string]int{}}
		for i := 0; i < titleWeight; i++ {
			for _, t := range Tokens(a.Title) {
				d.tf[t]++
				d.len++
			}
		}
		for _, t := range Tokens(a.Body) {
			d.tf[t]++
			d.len++
		}
		for t := range d.tf {
			ix.df[t]++
		}
		total += d.len
		ix.docs = append(ix.docs, d)
	}
	if len(ix.docs) > 0 {
		ix.avgdl = float64(total) / float64(len(ix.docs))
	}
	return ix
}

// Len is the number of articles.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return len(ix.docs)
}

// Suggest returns up to n articles for the text, best first, each
// scoring at least minScore and sharing at least two distinct tokens
// with it. Ties keep the articles' order in Build.
func (ix *Index) Suggest(text string, n int, minScore float64) []Hit {
	if ix == nil || len(ix.docs) == 0 || n <= 0 {
		return nil
	}
	q := map[string]bool{}
	for _, t := range Tokens(text) {
		q[t] = true
	}
	N := float64(len(ix.docs))
	var hits []Hit
	for i := range ix.docs {
		d := &ix.docs[i]
		score, matched := 0.0, 0
		for t := range q {
			f := float64(d.tf[t])
			if f == 0 {
				continue
			}
			matched++
			df := float64(ix.df[t])
			idf := math.Log(1 + (N-df+0.5)/(df+0.5))
			score += idf * f * (k1 + 1) / (f + k1*(1-b+b*float64(d.len)/ix.avgdl))
		}
		if matched >= minMatched && score >= minScore {
			hits = append(hits, Hit{Article: &d.art, Score: score})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	if len(hits) > n {
		hits = hits[:n]
	}
	return hits
}

// stop is a small English stop list: words that say nothing about what a
// ticket is about.
var stop = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be but by can could did do does for from had has have
		hello hi how i if in into is it its me my no not of on or our please so that the their them then there
		these they this to us was we were what when where which who why will with would you your thanks thank
		regards dear am get got just also any some about above after again against all because been before being
		below between both during each every few further here more most other over own same should such than
		too under until up very while since within without still yet one two now new need want help
		question see know like make use used using ok okay`) {
		stop[w] = true
	}
}

// stopBigrams are Korean bigrams of endings and particles so common that
// sharing them says nothing ("습니다", "해 주세요", "있습니다"): without
// them any two polite Korean texts would match.
var stopBigrams = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`습니 니다 합니 입니 됩니 립니 드립 있습 없습 았습 었습 였습 했습 겠습 니까 세요 주세 하세
		해주 부탁 에서 으로 하고 있는 는데 해요 어요 아요 이요 에요 예요 까요 나요 려고 하는 하여 해서 그리 리고 안녕 녕하
		하십 십니 감사 사합 고맙 맙습 수있 있나 있을 을까 할까 요청 드려 려요 는지 인지 한데 하기 기를 것이 것을 이런 저는 제가`) {
		stopBigrams[w] = true
	}
}

// cjk reports a rune written without spaces between words.
func cjk(r rune) bool {
	return unicode.In(r, unicode.Hangul, unicode.Han, unicode.Hiragana, unicode.Katakana)
}

// Tokens splits text into the index's tokens (see the package comment).
func Tokens(text string) []string {
	var out []string
	text = strings.ToLower(text)
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			i += w
			continue
		}
		start, isCJK := i, cjk(r)
		j := i
		for j < len(text) {
			r2, w2 := utf8.DecodeRuneInString(text[j:])
			if (!unicode.IsLetter(r2) && !unicode.IsDigit(r2)) || cjk(r2) != isCJK {
				break
			}
			j += w2
		}
		run := text[start:j]
		i = j
		if isCJK {
			rs := []rune(run)
			if len(rs) == 1 {
				// A lone Hangul syllable is mostly a bound noun or a
				// particle ("수", "것", "안"); a lone Han character
				// is a word.
				if !unicode.Is(unicode.Hangul, rs[0]) {
					out = append(out, run)
				}
				continue
			}
			for k := 0; k+1 < len(rs); k++ {
				if bg := string(rs[k : k+2]); !stopBigrams[bg] {
					out = append(out, bg)
				}
			}
			continue
		}
		if utf8.RuneCountInString(run) < 2 || stop[run] {
			continue
		}
		out = append(out, fold(run))
	}
	return out
}

// fold folds a regular English plural to its singular ("passwords",
// "password") and strips -ing and -ed ("downloading", "downloaded"), so
// the forms match; "ss", "us" and "is" endings stay. A light stemmer on
// purpose: a wrong fold costs a little recall, never a match.
func fold(w string) string {
	if len(w) > 5 && strings.HasSuffix(w, "ing") {
		return w[:len(w)-3]
	}
	if len(w) > 4 && strings.HasSuffix(w, "ed") {
		return w[:len(w)-2]
	}
	if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is") {
		return w[:len(w)-1]
	}
	return w
}
