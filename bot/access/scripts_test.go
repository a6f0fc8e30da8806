package access

import (
	"context"
	"testing"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
)

// The KEYS/ARGV contract of the audit scripts: the entries by time, the
// entries, their counts, the id sequence and the minute's counter of an
// aggregated entry — nothing else.
func TestAuditScriptsContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := keys.New(prefix)
	base := []string{k.AuditTimes(), k.AuditEntries(), k.AuditCounts()}
	plain := append(append([]string{}, base...), k.AuditSeq(), k.AuditNone())
	if err := addScript.Run(ctx, rdb, plain, 1000, 0, `{"w":"a"}`, "", "", "", 0, 0).Err(); err != nil {
		t.Fatal(err)
	}
	refused := append(append([]string{}, base...), k.AuditSeq(), k.AuditMinute("publish", "1"))
	for range 2 {
		if err := addScript.Run(ctx, rdb, refused, 2000, 0, `{"w":"b"}`, "r:publish:1:b:x", "r:publish:1:*", `{"w":"(several)"}`, 20, 120000).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n := rdb.HGet(ctx, k.AuditCounts(), "r:publish:1:b:x").Val(); n != "2" {
		t.Errorf("the aggregated entry counts %q, want 2", n)
	}
	redistest.OnlyDeclared(t, rdb, prefix, k.AuditTimes(), k.AuditEntries(), k.AuditCounts(), k.AuditSeq(), k.AuditMinute("publish", "1"))
	if n, err := trimScript.Run(ctx, rdb, base, 1500).Int(); err != nil || n != 1 {
		t.Errorf("trim = %d, %v; want 1 (the plain entry)", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, k.AuditTimes(), k.AuditEntries(), k.AuditCounts(), k.AuditSeq(), k.AuditMinute("publish", "1"))
}
