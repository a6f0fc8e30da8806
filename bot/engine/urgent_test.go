package engine

import (
	"strings"
	"testing"
)

// urgentOf returns the category of the step's urgent effect, or "".
func urgentOf(res Result) string {
	for _, e := range res.Effects {
		if e.Kind == EffectUrgent {
			return e.Category
		}
	}
	return ""
}

func handoverOf(res Result) (Effect, bool) {
	for _, e := range res.Effects {
		if e.Kind == EffectHandover {
			return e, true
		}
	}
	return Effect{}, false
}

// at returns a conversation in lang, left at the node the messages lead to.
func at(t *testing.T, e *Engine, lang string, msgs ...string) *conversation {
	t.Helper()
	conv := newConversation(t, e)
	conv.st = State{Lang: lang, Node: "main", LastSeen: t0}
	for _, m := range msgs {
		conv.send(m)
	}
	return conv
}

// TestDangerWords: what must be heard, in which category, and what must
// not, per language — the false alarms of the first lists included.
func TestDangerWords(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	tests := []struct {
		lang, text, want string
	}{
		// French.
		{"fr", "ma femme saigne beaucoup", "medical"},
		{"fr", "elle perd du sang", "medical"},
		{"fr", "ma femme va accoucher", "medical"},
		{"fr", "elle a perdu les eaux", "medical"},
		{"fr", "je veux me suicider", "suicide"},
		{"fr", "j'ai envie de mourir", "suicide"},
		{"fr", "Mon mari me frappe", "violence"},
		{"fr", "il me bat tous les jours", "violence"},
		{"fr", "j'ai été violée", "sexual"},
		{"fr", "une agression sexuelle", "sexual"},
		{"fr", "ils forcent des filles à la prostitution", "sexual"},
		{"fr", "ils ont enlevé mon fils", "missing"},
		{"fr", "un enfant disparu à Nador", "missing"},
		{"fr", "des gens se sont noyés", "drowning"},
		{"fr", "naufrage près de Nador", "drowning"},
		{"fr", "le patron a confisqué mon passeport", "trafficking"},
		{"fr", "c'est du travail forcé", "trafficking"},
		{"fr", "victime de traite des êtres humains", "trafficking"},
		{"fr", "mon frère a été arrêté", "detention"},
		{"fr", "il est en garde à vue", "detention"},
		{"fr", "traitement du diabète", ""},
		{"fr", "il traite des dossiers", ""},
		{"fr", "quel est mon groupe sanguin", ""},
		{"fr", "où faire une prise de sang", ""},
		{"fr", "je cherche un médecin", ""},
		{"fr", "le bateau de pêche", ""},
		{"fr", "arrête de m'envoyer des messages", ""},
		{"fr", "j'habite au bât B", ""},
		{"fr", "ma carte a disparu", ""},
		{"fr", "mon frère a disparu en mer", "missing"},
		// English.
		{"en", "my wife is bleeding", "medical"},
		{"en", "she is in labour", "medical"},
		{"en", "she is giving birth now", "medical"},
		{"en", "I want to kill myself", "suicide"},
		{"en", "I cut myself", "suicide"},
		{"en", "my husband beats me", "violence"},
		{"en", "he hits me", "violence"},
		{"en", "I was raped", "sexual"},
		{"en", "sexual exploitation at work", "sexual"},
		{"en", "they kidnapped my son", "missing"},
		{"en", "my child is missing", "missing"},
		{"en", "my brother drowned", "drowning"},
		{"en", "a shipwreck last night", "drowning"},
		{"en", "the boss took my passport", "trafficking"},
		{"en", "I am forced to work", "trafficking"},
		{"en", "my friend was arrested", "detention"},
		{"en", "he is detained in Oujda", "detention"},
		{"en", "what is my blood type", ""},
		{"en", "treatment for my child", ""},
		{"en", "a beautiful day", ""},
		{"en", "where is the school", ""},
		{"en", "this is a hit song", ""},
		{"en", "a document is missing", ""},
		{"en", "my brother is missing at sea", "missing"},
		// Arabic: the prefixes Arabic attaches still match.
		{"ar", "زوجتي عندها نزيف", "medical"},
		{"ar", "زوجتي في المخاض", "medical"},
		{"ar", "أفكر في الانتحار", "suicide"},
		{"ar", "زوجي يضربني", "violence"},
		{"ar", "أخاف من العنف", "violence"},
		{"ar", "تعرضت للاغتصاب", "sexual"},
		{"ar", "خطفوا ابني", "missing"},
		{"ar", "طفل مفقود في الغابة", "missing"},
		{"ar", "غرق القارب", "drowning"},
		{"ar", "أخذوا جوازي", "trafficking"},
		{"ar", "ضحية الاتجار بالبشر", "trafficking"},
		{"ar", "اعتقلوا أخي", "detention"},
		{"ar", "أخي في السجن", "detention"},
		{"ar", "ما هي فصيلة الدم", ""},
		{"ar", "أريد معلومات عن المدرسة", ""},
		{"ar", "شهادة الولادة", ""},
		{"ar", "مصادر المعلومات", ""},
		{"ar", "جوازي مفقود", ""},
		{"ar", "أخي مفقود في البحر", "missing"},
	}
	for _, tt := range tests {
		conv := at(t, e, tt.lang)
		res := conv.send(tt.text)
		if got := urgentOf(res); got != tt.want {
			t.Errorf("%s %q: category %q, want %q", tt.lang, tt.text, got, tt.want)
			continue
		}
		if tt.want == "" {
			continue
		}
		if want := text(e.Content, tt.lang, "urgent_"+tt.want); res.Replies[0].Text != want {
			t.Errorf("%s %q: first reply %q, want the numbers %q", tt.lang, tt.text, res.Replies[0].Text, want)
		}
		if !strings.Contains(res.Replies[0].Text, "15") {
			t.Errorf("%s %q: the reply does not give 15: %q", tt.lang, tt.text, res.Replies[0].Text)
		}
		for _, r := range res.Replies {
			if strings.Contains(r.Text, tt.text) {
				t.Errorf("%s %q: a reply repeats what was written", tt.lang, tt.text)
			}
		}
	}
}

// TestDangerHeardAtEveryStep: words of danger get the numbers at once from
// any menu or question, in every language, even after a long silence.
func TestDangerHeardAtEveryStep(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	says := map[string]string{"fr": "ma femme saigne", "en": "my wife is bleeding", "ar": "زوجتي عندها نزيف"}
	paths := map[string][]string{
		"main":             nil,
		"health menu":      {"2"},
		"a health text":    {"2", "3"},
		"school menu":      {"3"},
		"site question":    {"1"},
		"language":         {"5"},
		"notices question": {"4", "1"},
		"help":             {"AIDE"},
		"erase confirm":    {"EFFACER"},
	}
	for lang, danger := range says {
		for name, path := range paths {
			conv := at(t, e, lang, path...)
			before := conv.st.Node
			res := conv.send(danger)
			if urgentOf(res) != "medical" {
				t.Errorf("%s at %s (%s): not heard:\n%s", lang, name, before, joined(res))
				continue
			}
			if got, want := res.Replies[0].Text, text(e.Content, lang, "urgent_medical"); got != want {
				t.Errorf("%s at %s: first reply %q, want %q", lang, name, got, want)
			}
			if res.State.Node != "urgent_offer" {
				t.Errorf("%s at %s: node %q, want the offer of a person", lang, name, res.State.Node)
			}
			for _, e := range res.Effects {
				if e.Kind == EffectErase {
					t.Errorf("%s at %s: words of danger erased the person", lang, name)
				}
			}
		}
	}
	// After a long silence: no "welcome back" first.
	conv := at(t, e, "en")
	conv.now = conv.now.Add(3 * e.IdleAfter)
	if res := conv.send("my wife is bleeding"); urgentOf(res) != "medical" {
		t.Errorf("after a silence: not heard:\n%s", joined(res))
	}
	// A first message, the language unknown: it is told by the words.
	for lang, danger := range says {
		conv := newConversation(t, e)
		res := conv.send(danger)
		if urgentOf(res) != "medical" || res.State.Lang != lang {
			t.Errorf("first message %q: category %q, language %q, want medical, %s", danger, urgentOf(res), res.State.Lang, lang)
		}
	}
}

// TestDangerOffersAPerson: for a category that asks first, 1 records an
// urgent request; 0 does not; a wrong answer keeps the offer; a later
// request to a person is not flagged urgent.
func TestDangerOffersAPerson(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	conv := at(t, e, "fr")
	res := conv.send("ma femme saigne")
	if _, ok := handoverOf(res); ok {
		t.Fatal("a medical emergency recorded a request without asking")
	}
	mustContain(t, res, text(e.Content, "fr", "urgent_offer"))
	if strings.Contains(joined(res), "ma femme") {
		t.Error("the reply repeats the text")
	}
	conv.send("7") // not an option: the offer holds
	res = conv.send("1")
	h, ok := handoverOf(res)
	if !ok || !h.Urgent {
		t.Fatalf("1 after the offer: handover %v (urgent %v), want an urgent one", ok, h.Urgent)
	}
	// Staff see what kind of danger was heard (the words are not kept).
	if h.Category != "medical" || h.Text != UrgentRequestText("medical") {
		t.Errorf("the request after the offer: category %q, text %q; want the medical category named", h.Category, h.Text)
	}
	if res.State.Vars[varUrgent] != "" {
		t.Error("the offer is still pending after the request was recorded")
	}
	mustContain(t, res, text(e.Content, "fr", "urgent_recorded"))

	conv = at(t, e, "en")
	conv.send("my wife is bleeding")
	res = conv.send("0")
	if _, ok := handoverOf(res); ok || res.State.Node != "main" {
		t.Errorf("0 after the offer: handover %v, node %q", ok, res.State.Node)
	}
	conv.send("0")
	res = conv.send("I need help with my papers")
	if h, ok := handoverOf(res); !ok || h.Urgent {
		t.Errorf("a later ordinary request: handover %v, urgent %v; want not urgent", ok, h.Urgent)
	}
}

// TestDangerRecordedAtOnce: protection cases go to staff at once; what was
// written while asking for a person or while a request is open goes to
// staff flagged urgent.
func TestDangerRecordedAtOnce(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	conv := at(t, e, "fr", "1", "1") // the distributions list of a site
	res := conv.send("Mon mari me frappe")
	h, ok := handoverOf(res)
	if !ok || !h.Urgent || h.Text != "Mon mari me frappe" || h.Category != "violence" {
		t.Fatalf("violence: handover %v %+v, want an urgent one with the text", ok, h)
	}
	if len(h.Sites) != 1 {
		t.Errorf("the site chosen is not passed on: %v", h.Sites)
	}
	if got, want := res.Replies[0].Text, text(e.Content, "fr", "urgent_violence"); got != want {
		t.Errorf("first reply %q, want %q", got, want)
	}
	mustContain(t, res, text(e.Content, "fr", "urgent_recorded"))
	if strings.Index(res.Replies[0].Text, "15") > strings.Index(res.Replies[0].Text, "8350") {
		t.Error("15 is not the first number")
	}

	// Asking for a person: a medical word records it at once, urgent.
	conv = at(t, e, "en", "0")
	res = conv.send("my wife is bleeding, please call")
	if h, ok := handoverOf(res); !ok || !h.Urgent || h.Text != "my wife is bleeding, please call" {
		t.Errorf("a request with danger: handover %v %+v", ok, h)
	}
	if conv.st.Node == "person" {
		t.Error("still asked to write the request")
	}

	// A request open: it goes to staff as an urgent note, no new request.
	conv = at(t, e, "ar")
	conv.st.Request = "req1"
	res = conv.send("زوجي يضربني")
	if _, ok := handoverOf(res); ok {
		t.Error("a second request while one is open")
	}
	var note bool
	for _, e := range res.Effects {
		note = note || (e.Kind == EffectNote && e.Urgent && e.Text == "زوجي يضربني")
	}
	if !note || urgentOf(res) != "violence" {
		t.Errorf("request open: effects %+v", res.Effects)
	}
	if got, want := res.Replies[0].Text, text(e.Content, "ar", "urgent_violence"); got != want {
		t.Errorf("request open: first reply %q, want %q", got, want)
	}
}

// TestDangerAfterKeywordsAndNumbers: STOP and the other keywords, and bare
// menu numbers, work as before.
func TestDangerAfterKeywordsAndNumbers(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	conv := at(t, e, "fr")
	res := conv.send("STOP")
	if urgentOf(res) != "" || !res.State.OptedOut {
		t.Errorf("STOP: urgent %q, opted out %v", urgentOf(res), res.State.OptedOut)
	}
	conv = at(t, e, "fr")
	if res := conv.send("2"); urgentOf(res) != "" || res.State.Node != "health" {
		t.Errorf("2 at the main menu: urgent %q, node %q", urgentOf(res), res.State.Node)
	}
	conv = at(t, e, "en")
	if res := conv.send("15"); urgentOf(res) != "" {
		t.Errorf("a bare number: urgent %q", urgentOf(res))
	}
}
