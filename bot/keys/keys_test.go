package keys

import (
	"reflect"
	"strings"
	"testing"
)

// Every builder's key belongs to its family, and its parts read back.
func TestBuiltKeysFindTheirFamily(t *testing.T) {
	t.Parallel()
	s := New("p:")
	cases := []struct {
		key   string
		f     *Family
		parts []string
	}{
		{s.ContactState("ab12"), ContactStateF, []string{"ab12"}},
		{s.MinuteCount("ab12", "2961"), MinuteCountF, []string{"ab12", "2961"}},
		{s.Simulation().ContactState("ab12"), SimStateF, []string{"ab12"}},
		{s.Simulation().MinuteCount("ab12", "7"), SimCountF, []string{"ab12", "7"}},
		{s.Request("r1"), RequestF, []string{"r1"}},
		{s.RequestNotes("r1"), RequestNotesF, []string{"r1"}},
		{s.OpenRequests(3), OpenRequestsF, []string{}},
		{s.Subscribers("rabat", 15), SubscribersF, []string{"rabat"}},
		{s.SubscribersOf("rabat", "ab12"), SubscribersF, []string{"rabat"}},
		{s.ReplyStream(0), ReplyStreamF, []string{}},
		{s.Delivery("SM1"), DeliveryF, []string{"SM1"}},
		{s.SentParts("e1"), SentPartsF, []string{"e1"}},
		{s.ShardCount(), ShardsF, []string{}},
		{s.Broadcast("b1"), BroadcastF, []string{"b1"}},
		{s.BroadcastsDue(), BcDueF, []string{}},
		{s.BroadcastCounts("b1", 2), BcCountsF, []string{"b1"}},
		{s.BroadcastReach("x", 4), BcReachF, []string{"x"}},
		{s.Rate("sms"), RateF, []string{"sms"}},
		{s.RatePause("sms"), RatePauseF, []string{"sms"}},
		{s.AuditMinute("publish", "123"), AuditMinuteF, []string{"publish", "123"}},
		{s.Session("h"), SessionF, []string{"h"}},
		{s.DistributionLock("d1"), DistributionLockF, []string{"d1"}},
		{s.StatsDay("2026-12-01"), StatsDayF, []string{"2026-12-01"}},
	}
	for _, c := range cases {
		if got := s.Family(c.key); got != c.f {
			t.Errorf("Family(%q) = %v, want %s", c.key, got, c.f.Name)
			continue
		}
		if got := s.Parts(c.f, c.key); !reflect.DeepEqual(got, c.parts) {
			t.Errorf("Parts(%q) = %q, want %q", c.key, got, c.parts)
		}
	}
	wrong := "p:" + s.ShardTag((s.ShardOf("ab12")+1)%s.Shards()) + ":c:ab12:state"
	for _, k := range []string{"p:other", "q:{c:ab}:state", "p:{c:ab}:state", "p:{o}:bc:a:b:c", "p:site:x:subscribers",
		"p:{o}:reply", "p:{x}:site:a:subscribers", wrong} {
		if f := s.Family(k); f != nil {
			t.Errorf("Family(%q) = %s, want none", k, f.Name)
		}
	}
}

// The registry is consistent: unique names and patterns, personal
// families say how they are erased, indexes and purges name families.
func TestRegistry(t *testing.T) {
	t.Parallel()
	names, patterns := map[string]bool{}, map[string]bool{}
	for _, f := range Families() {
		if names[f.Name] || patterns[f.Pattern] {
			t.Errorf("%s (%s) registered twice", f.Name, f.Pattern)
		}
		names[f.Name], patterns[f.Pattern] = true, true
		if (f.Holds == Contact) == (f.Erase == NotPersonal) {
			t.Errorf("%s: holds %s but erase rule %q", f.Name, f.Holds, f.Erase)
		}
		if (f.Erase == ThroughIndex || f.Erase == RemoveIndexed) && f.Index == nil {
			t.Errorf("%s: no index", f.Name)
		}
		if (f.Purge == MembersOutlive) != (f.Of != nil) {
			t.Errorf("%s: purge %q of %v", f.Name, f.Purge, f.Of)
		}
		switch f.Erase {
		case RemoveMember, RemoveIndexed:
			if f.Type != Set && f.Type != ZSet {
				t.Errorf("%s: members removed from a %s", f.Name, f.Type)
			}
		case RemoveEntries:
			if f.Type == Set || f.Type == String {
				t.Errorf("%s: entries removed from a %s", f.Name, f.Type)
			}
		case DeleteWithPerson:
			if !strings.Contains(f.Pattern, "{#}:c:*") || f.Sharding != ByFirstPart {
				t.Errorf("%s: deleted with the person, but not in their shard: %s", f.Name, f.Pattern)
			}
		}
		if strings.Contains(f.Pattern, "{#}") == (f.Sharding == NotSharded) {
			t.Errorf("%s: pattern %s, sharding %q", f.Name, f.Pattern, f.Sharding)
		}
		if f.TTL.Rule == "" || f.Type == "" {
			t.Errorf("%s: no TTL rule or type", f.Name)
		}
		parts := make([]string, f.parts())
		for i := range parts {
			parts[i] = "x1"
		}
		s := New("x:")
		key := func() string {
			if f.Sharding == Explicit {
				return s.KeyIn(f, 7, parts...)
			}
			return s.Key(f, parts...)
		}()
		if s.Family(key) != f {
			t.Errorf("%s: its own key %q is found as %v", f.Name, key, s.Family(key))
		}
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	s := New("p:")
	if g, want := s.Glob(MinuteCountF, "ab"), "p:"+s.ShardTag(s.ShardOf("ab"))+":c:ab:n:*"; g != want {
		t.Errorf("Glob = %q, want %q", g, want)
	}
	if g := s.Glob(BcToldF); g != "p:{*}:bc:*:told" {
		t.Errorf("Glob = %q", g)
	}
	if g, want := s.GlobIn(BcToldF, 3, "b1"), "p:"+s.ShardTag(3)+":bc:b1:told"; g != want {
		t.Errorf("GlobIn = %q, want %q", g, want)
	}
}
