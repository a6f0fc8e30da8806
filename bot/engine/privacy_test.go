package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/config"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/sms"
)

// greetings are first messages that tell each shipped language.
var greetings = map[string]string{"fr": "bonjour", "en": "hello", "ar": "مرحبا"}

// keyword returns the first word of the keyword that goes to node in lang.
func keyword(t *testing.T, c *content.Content, node, lang string) string {
	t.Helper()
	for _, kw := range c.Flow.Keywords {
		if kw.Goto == node && len(kw.Words[lang]) > 0 {
			return kw.Words[lang][0]
		}
	}
	t.Fatalf("no keyword to %q in %s", node, lang)
	return ""
}

// longestOrg is an organisation name as long as OUTREACH_ORG_NAME may be.
var longestOrg = strings.Repeat("Aide Migrants Maroc ", 2)[:config.MaxOrgName]

// TestFirstContactCost measures the replies to a first message, each sent
// as its own SMS (the welcome, then the main menu), with the shipped
// content: at most 2 SMS in French and English, 4 in Arabic, whether the
// organisation is unset or has the longest name allowed.
func TestFirstContactCost(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	max := map[string]int{"fr": 2, "en": 2, "ar": 4}
	for _, lang := range e.Content.Languages {
		for _, org := range []string{"", longestOrg} {
			data := defaultData(e.Content)
			data.Org = org
			res := e.Step(State{}, Input{Text: greetings[lang], Now: t0}, data)
			if res.State.Lang != lang {
				t.Fatalf("%q: language %q, want %s", greetings[lang], res.State.Lang, lang)
			}
			total := 0
			var parts []string
			for _, r := range res.Replies {
				c := sms.Measure(r.Text)
				total += c.Segments
				parts = append(parts, fmt.Sprintf("%d × %s (%d): %q", c.Segments, c.Encoding, c.Units, r.Text))
			}
			if len(res.Replies) != 2 {
				t.Errorf("%s: %d replies, want the welcome and the main menu:\n%s", lang, len(res.Replies), strings.Join(parts, "\n"))
			}
			if total > max[lang] {
				t.Errorf("first contact in %s (org %q) costs %d SMS, want at most %d:\n%s", lang, org, total, max[lang], strings.Join(parts, "\n"))
			}
		}
	}
}

// TestWelcomeIsHonest: the first message names who runs the service, says
// what is kept and that the operator and the app see messages, how to erase
// and where the details are; it never says "never shared".
func TestWelcomeIsHonest(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	// What each language must say, beyond the organisation and keywords.
	must := map[string][]string{
		"fr": {"numéro chiffré", "choix", "réseau", "appli"},
		"en": {"number encrypted", "choices", "phone network", "app"},
		"ar": {"رقمك مشفرا", "اختياراتك", "شركة الهاتف", "التطبيق"},
	}
	never := []string{"Jamais partagé", "Never shared", "نشارك", "موقعك"}
	for _, lang := range e.Content.Languages {
		data := defaultData(e.Content)
		data.Org = "Caritas Nador"
		res := e.Step(State{}, Input{Text: greetings[lang], Now: t0}, data)
		welcome := res.Replies[0].Text
		want := append([]string{"Caritas Nador", keyword(t, e.Content, "erase", lang), keyword(t, e.Content, "help", lang)}, must[lang]...)
		for _, w := range want {
			if !strings.Contains(welcome, w) {
				t.Errorf("%s welcome lacks %q:\n%s", lang, w, welcome)
			}
		}
		for _, w := range never {
			if strings.Contains(welcome, w) {
				t.Errorf("%s welcome says %q:\n%s", lang, w, welcome)
			}
		}
	}
}

// TestOrgDefault: with no organisation configured, {{.Org}} reads as the
// content's neutral words in the person's language, never as a blank.
func TestOrgDefault(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	for _, lang := range e.Content.Languages {
		def := text(e.Content, lang, content.MsgOrgDefault)
		if def == "" || def == content.MsgOrgDefault {
			t.Fatalf("%s: no %s message", lang, content.MsgOrgDefault)
		}
		res := e.Step(State{}, Input{Text: greetings[lang], Now: t0}, defaultData(e.Content))
		if w := res.Replies[0].Text; !strings.Contains(w, def) {
			t.Errorf("%s welcome without an organisation lacks %q:\n%s", lang, def, w)
		}
	}
}

// TestPrivacyNotice: help → "your data" gives the whole notice in every
// language.
func TestPrivacyNotice(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	must := map[string][]string{
		"fr": {"chiffré", "langue", "ville", "choix", "écrivez à l'équipe", "6 mois", "opérateur", "Téléphone partagé", "Supprimez cette conversation"},
		"en": {"encrypted", "language", "city", "choices", "write to our team", "6 months", "phone operator", "Shared phone", "Delete this chat"},
		"ar": {"مشفرا", "لغتك", "المدينة", "اختياراتك", "تكتبه لنا", "6 أشهر", "شركة الهاتف", "هاتف مشترك", "احذف هذه المحادثة"},
	}
	apps := map[string][]string{"fr": {"WhatsApp", "Telegram"}, "en": {"WhatsApp", "Telegram"}, "ar": {"واتساب", "تيليغرام"}}
	for _, lang := range e.Content.Languages {
		conv := newConversation(t, e)
		conv.data.Org = "Caritas Nador"
		conv.send(greetings[lang])
		conv.send(keyword(t, e.Content, "help", lang))
		res := conv.send("1")
		notice := joined(res)
		want := append([]string{"Caritas Nador", "Twilio", "Meta", keyword(t, e.Content, "erase", lang)}, must[lang]...)
		want = append(want, apps[lang]...)
		for _, w := range want {
			if !strings.Contains(notice, w) {
				t.Errorf("%s privacy notice lacks %q:\n%s", lang, w, notice)
			}
		}
		for _, w := range []string{"Rien n'est partagé", "Nothing is shared", "لا نشارك", "موقع"} {
			if strings.Contains(notice, w) {
				t.Errorf("%s privacy notice says %q:\n%s", lang, w, notice)
			}
		}
	}
}

// TestStopSaysWhatSMSDoes: the answer to STOP says that by SMS the word
// STOP blocks every message until START (Twilio does it), and that on the
// apps the person can still write.
func TestStopSaysWhatSMSDoes(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	for _, lang := range e.Content.Languages {
		conv := newConversation(t, e)
		conv.send(greetings[lang])
		res := conv.send(keyword(t, e.Content, "stop", lang))
		if !res.State.OptedOut {
			t.Fatalf("%s: STOP did not opt out", lang)
		}
		ack := joined(res)
		for _, w := range []string{"SMS", "STOP", "START", keyword(t, e.Content, "main", lang)} {
			if !strings.Contains(ack, w) {
				t.Errorf("%s answer to STOP lacks %q:\n%s", lang, w, ack)
			}
		}
		if c := sms.Measure(ack); (lang != "ar" && c.Segments > 1) || c.Segments > 2 {
			t.Errorf("%s answer to STOP costs %d SMS, want 1 (2 in Arabic)", lang, c.Segments)
		}
	}
}

// TestPrivacyNoticeSaysTheRetention: the notice gives the deployment's
// retention (OUTREACH_RETENTION, in months), not a fixed 6.
func TestPrivacyNoticeSaysTheRetention(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	want := map[string]string{"fr": "12 mois", "en": "12 months", "ar": "12 أشهر"}
	for _, lang := range e.Content.Languages {
		conv := newConversation(t, e)
		conv.data.Months = 12
		conv.send(greetings[lang])
		conv.send(keyword(t, e.Content, "help", lang))
		notice := joined(conv.send("1"))
		if !strings.Contains(notice, want[lang]) || strings.Contains(notice, " 6 ") {
			t.Errorf("%s privacy notice with a 12-month retention:\n%s", lang, notice)
		}
	}
}
