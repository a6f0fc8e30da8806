package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
)

// contentFiles returns the built-in content as the content API takes it.
func contentFiles(t *testing.T) map[string]string {
	files := map[string]string{}
	for name, data := range shipped(t).Files() {
		files[name] = string(data)
	}
	return files
}

func publish(t *testing.T, base string, files map[string]string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"files": files})
	return api(t, "PUT", base+"/api/v1/content", adminToken, string(body))
}

func simulateText(t *testing.T, base, contact, text string) string {
	t.Helper()
	return strings.Join(say(t, base, contact, text), "\n")
}

func TestPublishAndRollBack(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"REDIS_URL": redistest.URL(t), "OUTREACH_REDIS_PREFIX": redistest.Prefix(t), "OUTREACH_ADMIN_TOKEN": adminToken}
	a := startServe(t, vars)
	b := startServe(t, copyVars(vars)) // a second instance on the same Redis

	// A person waits in the health menu on instance b.
	simulateText(t, b.base, "mid-node", "Bonjour")
	simulateText(t, b.base, "mid-node", "2")

	// Refused: a missing Arabic message. Nothing changes.
	broken := contentFiles(t)
	broken["locales/ar.yaml"] = strings.Replace(broken["locales/ar.yaml"], "health_where:", "health_wher:", 1)
	code, out := publish(t, a.base, broken)
	if code != 422 || !strings.Contains(fmt.Sprint(out["problems"]), "health_where") {
		t.Fatalf("invalid publish: %d %v", code, out)
	}
	if code, out := api(t, "GET", a.base+"/api/v1/content", adminToken, ""); code != 200 || out["version"] != 1.0 {
		t.Fatalf("after a refused publish the version is %v, want 1", out["version"])
	}

	// Published: a health centre moved (a new line in Nador's health_where), and the
	// health menu renamed, so the person waiting in it is caught mid-node.
	files := contentFiles(t)
	const moved = "Le centre de santé de Nador est maintenant rue 12."
	files["locales/fr.yaml"] = strings.Replace(files["locales/fr.yaml"], `health_where_nador: "`, `health_where_nador: "`+moved+`\n`, 1)
	files["flows/main.yaml"] = strings.ReplaceAll(files["flows/main.yaml"], "goto: health}", "goto: sante}")
	files["flows/main.yaml"] = strings.ReplaceAll(files["flows/main.yaml"], "rest: health\n", "rest: sante\n")
	files["flows/main.yaml"] = strings.ReplaceAll(files["flows/main.yaml"], "back: health\n", "back: sante\n")
	files["flows/main.yaml"] = strings.Replace(files["flows/main.yaml"], "\n  health:\n", "\n  sante:\n", 1)
	began := time.Now()
	code, out = publish(t, a.base, files)
	if code != 200 || out["version"] != 2.0 {
		t.Fatalf("publish: %d %v", code, out)
	}
	// The first instance answers with the new content at once.
	// Health 2 asks the city first (1: Nador), then says where to go there.
	nadorWhere := func(base, contact string) string {
		got := simulateText(t, base, contact, "2")
		if !strings.Contains(got, moved) {
			got = simulateText(t, base, contact, "1")
		}
		return got
	}
	simulateText(t, a.base, "p2", "Bonjour")
	simulateText(t, a.base, "p2", "2")
	if got := nadorWhere(a.base, "p2"); !strings.Contains(got, moved) {
		t.Errorf("the next simulate on the publishing instance does not show the change: %q", got)
	}
	// The second instance switches within seconds (Redis pub/sub).
	var latency time.Duration
	waitFor(t, func() bool {
		simulateText(t, b.base, "probe", "Bonjour")
		simulateText(t, b.base, "probe", "2")
		if strings.Contains(nadorWhere(b.base, "probe"), moved) {
			latency = time.Since(began)
			return true
		}
		simulateText(t, b.base, "probe", "MENU")
		return false
	})
	t.Logf("a publish reached the second instance in %v", latency)
	// The person in the old health menu: a short note, then the main menu.
	if got := simulateText(t, b.base, "mid-node", "3"); !strings.Contains(got, "Le menu a changé") || !strings.Contains(got, "Menu - répondez") {
		t.Errorf("caught mid-node: %q", got)
	}

	code, out = api(t, "GET", a.base+"/api/v1/content", adminToken, "")
	if code != 200 || out["version"] != 2.0 || out["published_by"] != "bootstrap-admin" || out["files"] == nil {
		t.Errorf("GET content: %d %v", code, out["version"])
	}
	code, out = api(t, "GET", a.base+"/api/v1/content/versions", adminToken, "")
	if code != 200 || len(out["versions"].([]any)) != 2 {
		t.Errorf("versions: %d %v", code, out)
	}
	// Rollback to version 1, the built-in content.
	code, out = api(t, "POST", a.base+"/api/v1/content/rollback", adminToken, `{"version":1}`)
	if code != 200 || out["version"] != 3.0 {
		t.Fatalf("rollback: %d %v", code, out)
	}
	simulateText(t, a.base, "p3", "Bonjour")
	simulateText(t, a.base, "p3", "2")
	if got := nadorWhere(a.base, "p3"); strings.Contains(got, moved) {
		t.Errorf("after rollback the old text is still there: %q", got)
	}
	// A preview of version 2 and of a valid draft, without publishing.
	preview := func(contact, text string, version int, draft map[string]string) string {
		body, _ := json.Marshal(map[string]any{"contact": contact, "text": text, "version": version, "draft": draft})
		code, out := api(t, "POST", a.base+"/api/v1/simulate", adminToken, string(body))
		if code != 200 {
			t.Fatalf("preview: %d %v", code, out)
		}
		return fmt.Sprint(out)
	}
	for _, text := range []string{"Bonjour", "2", "2"} {
		preview("pv", text, 2, nil)
	}
	if got := preview("pv", "1", 2, nil); !strings.Contains(got, moved) {
		t.Errorf("preview of version 2 does not show its text: %s", got)
	}
	draft := contentFiles(t)
	draft["locales/fr.yaml"] = strings.Replace(draft["locales/fr.yaml"], `main_title: "`, `main_title: "BROUILLON `, 1)
	if got := preview("pd", "Bonjour", 0, draft); !strings.Contains(got, "BROUILLON") {
		t.Errorf("preview of a draft: %s", got)
	}
	if got := simulateText(t, a.base, "p4", "Bonjour"); strings.Contains(got, "BROUILLON") {
		t.Error("a draft preview changed the live content")
	}
	body, _ := json.Marshal(map[string]any{"contact": "preview2", "text": "Bonjour", "draft": broken})
	if code, _ := api(t, "POST", a.base+"/api/v1/simulate", adminToken, string(body)); code != 422 {
		t.Errorf("preview of an invalid draft: %d, want 422", code)
	}
	if code, out = api(t, "GET", a.base+"/api/v1/audit", adminToken, ""); code != 200 {
		t.Fatalf("audit: %d %v", code, out)
	}
	if data, _ := json.Marshal(out); !strings.Contains(string(data), "content.publish") || !strings.Contains(string(data), "content.rollback") {
		t.Errorf("audit lacks the content changes: %s", data)
	}
}

func copyVars(v map[string]string) map[string]string {
	out := map[string]string{}
	for k, x := range v {
		out[k] = x
	}
	return out
}
