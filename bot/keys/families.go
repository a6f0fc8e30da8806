package keys

// Family is one kind of key: every key of the service belongs to exactly
// one registered family (the keyspace test asserts it).
type Family struct {
	// Name says what the keys hold.
	Name string
	// Pattern is the key after the prefix, each "*" one part without ':'.
	Pattern string
	// Tag is the hash tag the keys share ("" for none: a single key, or
	// keys never used together); "{#}" in a pattern is a shard's tag.
	Tag string
	// Sharding says how a key of a sharded family finds its shard.
	Sharding ShardRule
	// Type is the Redis type of the keys.
	Type Type
	// TTL is how the keys expire.
	TTL TTL
	// Holds says whose data the keys hold.
	Holds Holds
	// Erase says how erasing a person reaches the keys (Holds == Contact).
	Erase Erase
	// Index names, for Erase == ThroughIndex or RemoveIndexed, the family
	// whose set (the person's) lists the parts that name the keys.
	Index *Family
	// Purge is how the retention purge cleans the keys; Of is the family
	// whose key each member names.
	Purge Purge
	Of    *Family
}

// Type is a Redis data type.
type Type string

// The Redis types of families.
const (
	String Type = "string"
	Hash   Type = "hash"
	Set    Type = "set"
	ZSet   Type = "zset"
	List   Type = "list"
	Stream Type = "stream"
)

// TTL is a family's expiry rule.
type TTL struct {
	Rule TTLRule
	// Note says what the period is.
	Note string
}

// TTLRule is how the keys of a family expire.
type TTLRule string

// The expiry rules.
const (
	// Retention: the retention period (OUTREACH_RETENTION) after the last write.
	Retention TTLRule = "retention"
	// Fixed: a fixed period set on each write (the Note says which).
	Fixed TTLRule = "fixed"
	// Trimmed: the key lives on; its owner drops old entries (the Note says when).
	Trimmed TTLRule = "trimmed"
	// Purged: the key lives on; the retention purge removes the members
	// whose person or record expired (see Purge).
	Purged TTLRule = "purged"
	// None: kept until deleted by its owner (configuration, accounts).
	None TTLRule = "none"
)

// Holds says whose data a family holds.
type Holds string

// Whose data.
const (
	// Contact: something about a person the service talks with (personal
	// data under erasure and retention).
	Contact Holds = "contact"
	// Staff: about a console user or API token holder, deleted with the account.
	Staff Holds = "staff"
	// Nothing: about no one.
	Nothing Holds = "nothing"
)

// Erase is how erasing a person reaches a family.
type Erase string

// The erase rules.
const (
	// NotPersonal: erasure leaves the keys alone.
	NotPersonal Erase = "not personal"
	// DeleteWithPerson: the keys carry the person's contact key in their
	// name (the first part): deleted.
	DeleteWithPerson Erase = "deleted with the person"
	// ThroughIndex: the keys are named by the parts listed in the person's
	// Index set (their requests): deleted.
	ThroughIndex Erase = "found through an index, deleted"
	// RemoveIndexed: sorted sets whose members are parts listed in the
	// person's Index set: those members are removed.
	RemoveIndexed Erase = "indexed members removed"
	// RemoveMember: sets holding the person's contact key as a member:
	// removed from every key of the family.
	RemoveMember Erase = "person removed as a member"
	// RemoveEntries: entries (JSON with a "ck" field, or a hash with a
	// "ck" field) naming the person: deleted from every key of the family.
	RemoveEntries Erase = "entries naming the person deleted"
)

// Purge is what the retention purge does with a family.
type Purge string

// The purge rules.
const (
	// NoPurge: the keys expire by themselves (or hold nothing to purge).
	NoPurge Purge = ""
	// MembersOutlive: members whose key in family Of is gone are removed.
	MembersOutlive Purge = "members whose key expired are removed"
)

// Families returns every registered family.
func Families() []*Family { return registry }

func person(name, pattern string, t Type, ttl TTL) *Family {
	return &Family{Name: name, Pattern: pattern, Tag: personTag, Sharding: ByFirstPart, Type: t, TTL: ttl, Holds: Contact, Erase: DeleteWithPerson}
}

// The descriptions of the shards' tags.
const (
	personTag = "{#}: the person's shard"
	idTag     = "{#}: the shard of its id (a request's is its person's)"
	shardTag  = "{#}: one key a shard"
)

func shared(name, pattern, tag string, t Type, ttl TTL, holds Holds) *Family {
	e := NotPersonal
	return &Family{Name: name, Pattern: pattern, Tag: tag, Type: t, TTL: ttl, Holds: holds, Erase: e}
}

var retention = TTL{Rule: Retention}

// The families of a person: their keys share the tag of their shard.
var (
	ContactStateF = person("contact state (language, subscriptions, sealed address)", "{#}:c:*:state", Hash, retention)
	DialogF       = person("where the conversation stands", "{#}:c:*:dialog", String, TTL{Fixed, "the idle period, at most the retention period"})
	SeenF         = person("provider message ids handled", "{#}:c:*:seen", ZSet, TTL{Fixed, "48 hours, at most the retention period"})
	MinuteCountF  = person("messages in a minute (flood limit)", "{#}:c:*:n:*", String, TTL{Fixed, "2 minutes"})
	RequestsOfF   = person("the person's requests to talk to someone", "{#}:c:*:requests", Set, retention)
)

// The families of simulations (previews, POST /api/v1/simulate): a
// simulated contact gets the contact key a real one would, so they are
// erased with the person too.
var (
	SimStateF  = person("simulated contact state", SimulationSpace+"{#}:c:*:state", Hash, TTL{Fixed, "the simulation period"})
	SimDialogF = person("simulated conversation", SimulationSpace+"{#}:c:*:dialog", String, TTL{Fixed, "the simulation period"})
	SimSeenF   = person("simulated message ids", SimulationSpace+"{#}:c:*:seen", ZSet, TTL{Fixed, "the simulation period"})
	SimCountF  = person("simulated messages in a minute", SimulationSpace+"{#}:c:*:n:*", String, TTL{Fixed, "2 minutes"})
)

// Requests to talk to a person: in the person's shard (a request's id is
// drawn so), for the turn that records one and for erasure; the indexes
// are one a shard, and lists merge them.
var (
	RequestF = &Family{Name: "request to talk to a person", Pattern: "{#}:request:*", Tag: idTag, Sharding: ByFirstPart, Type: String,
		TTL: retention, Holds: Contact, Erase: ThroughIndex, Index: RequestsOfF}
	RequestNotesF = &Family{Name: "what the person wrote after their request (sealed)", Pattern: "{#}:request:*:notes", Tag: idTag, Sharding: ByFirstPart, Type: List,
		TTL: retention, Holds: Contact, Erase: ThroughIndex, Index: RequestsOfF}
	RequestRepliesF = &Family{Name: "staff's replies to a request (sealed)", Pattern: "{#}:request:*:replies", Tag: idTag, Sharding: ByFirstPart, Type: List,
		TTL: retention, Holds: Contact, Erase: ThroughIndex, Index: RequestsOfF}
	RequestAssigneeF = &Family{Name: "who of staff takes care of a request", Pattern: "{#}:request:*:assignee", Tag: idTag, Sharding: ByFirstPart, Type: String,
		TTL: retention, Holds: Contact, Erase: ThroughIndex, Index: RequestsOfF}
	OpenRequestsF = &Family{Name: "open requests by time (a shard's)", Pattern: "{#}:requests:open", Tag: shardTag, Sharding: Explicit, Type: ZSet,
		TTL: TTL{Purged, "ids of expired requests removed"}, Holds: Contact, Erase: RemoveIndexed, Index: RequestsOfF, Purge: MembersOutlive, Of: RequestF}
	ClosedRequestsF = &Family{Name: "closed requests by time (a shard's)", Pattern: "{#}:requests:closed", Tag: shardTag, Sharding: Explicit, Type: ZSet,
		TTL: TTL{Purged, "ids of expired requests removed"}, Holds: Contact, Erase: RemoveIndexed, Index: RequestsOfF, Purge: MembersOutlive, Of: RequestF}
	UrgentRequestsF = &Family{Name: "open requests that are urgent (a shard's)", Pattern: "{#}:requests:urgent", Tag: shardTag, Sharding: Explicit, Type: Set,
		TTL: TTL{Purged, "ids of expired requests removed; closing removes one"}, Holds: Contact, Erase: RemoveIndexed, Index: RequestsOfF, Purge: MembersOutlive, Of: RequestF}
)

// Sites and their subscribers.
var (
	SubscribersF = &Family{Name: "contacts subscribed to a site's notices (a shard's)", Pattern: "{#}:site:*:subscribers", Tag: shardTag, Sharding: Explicit, Type: Set,
		TTL: TTL{Purged, "contacts whose state expired removed"}, Holds: Contact, Erase: RemoveMember, Purge: MembersOutlive, Of: ContactStateF}
	SitesF            = shared("sites staff stored", "sites", "", String, TTL{Rule: None}, Nothing)
	LayoutF           = shared("the layout the keys were migrated to", "layout", "", String, TTL{Rule: None}, Nothing)
	ShardsF           = shared("how many shards the keys about people are spread over", "shards", "", String, TTL{Rule: None}, Nothing)
	DistributionsF    = shared("distributions", "distributions", "", Hash, TTL{Rule: None}, Nothing)
	DistributionLockF = shared("a distribution's change under way", "distribution:*:lock", "", String, TTL{Fixed, "30 seconds"}, Nothing)
	DistributionOnceF = shared("a distribution's idempotency key", "distribution:once:*", "", String, TTL{Fixed, "24 hours"}, Nothing)
	KeyringF          = shared("the root key sealed with OUTREACH_DATA_KEY", "keyring", "", String, TTL{Rule: None}, Nothing)
	DataKeyF          = shared("the data key made when none is configured", "data-key", "", String, TTL{Rule: None}, Nothing)
	ContentDraftF     = shared("the console's content draft", "{draft}:content", "{draft}", String, TTL{Rule: None}, Nothing)
	StatsDayF         = shared("a day's counts", "{stats}:day:*", "{stats}", Hash, TTL{Fixed, "the day plus the stats keep period"}, Nothing)
	CensusF           = shared("people by site and language, as last counted", "{stats}:people", "{stats}", Hash, TTL{Fixed, "a day after the count"}, Nothing)
	ContentCurrentF   = shared("the current content version", "{content}:current", "{content}", String, TTL{Rule: None}, Nothing)
	ContentSeqF       = shared("the content version sequence", "{content}:seq", "{content}", String, TTL{Rule: None}, Nothing)
	ContentVersionsF  = shared("the content versions kept", "{content}:versions", "{content}", ZSet, TTL{Trimmed, "the last OUTREACH_CONTENT_VERSIONS"}, Nothing)
	ContentVersionF   = shared("one content version", "{content}:v:*", "{content}", String, TTL{Trimmed, "the last OUTREACH_CONTENT_VERSIONS"}, Nothing)
	ContentAudioF     = shared("a recording of the content, by its SHA-256", "{content}:audio:*", "{content}", String, TTL{Trimmed, "while a version kept names it"}, Nothing)
	ContentAudiosF    = shared("the recordings kept, with when each was last stored", "{content}:audios", "{content}", ZSet, TTL{Trimmed, "while a version kept names them"}, Nothing)
	APITokenF         = shared("an API token (by hash)", "{tokens}:token:*", "{tokens}", Hash, TTL{Rule: None}, Staff)
	APITokenNamesF    = shared("API token names", "{tokens}:names", "{tokens}", Hash, TTL{Rule: None}, Staff)
	SessionF          = shared("a console session", "{session}:*", "{session}", String, TTL{Fixed, "the session's lifetime"}, Staff)
	PersonF           = shared("a console account", "{people}:person:*", "{people}", Hash, TTL{Rule: None}, Staff)
	PeopleNamesF      = shared("console account names", "{people}:names", "{people}", Set, TTL{Rule: None}, Staff)
	InviteF           = shared("a console invitation", "{people}:invite:*", "{people}", String, TTL{Fixed, "48 hours"}, Staff)
	SignInAccountF    = shared("failed sign-ins of an account", "{signin}:account:*", "{signin}", String, TTL{Fixed, "15 minutes"}, Staff)
	SignInAddressF    = shared("failed sign-ins from an address", "{signin}:address:*", "{signin}", String, TTL{Fixed, "15 minutes"}, Staff)
	AuditTimesF       = shared("audit entries by time", "{audit}:at", "{audit}", ZSet, TTL{Trimmed, "the audit retention"}, Staff)
	AuditEntriesF     = shared("audit entries", "{audit}:ev", "{audit}", Hash, TTL{Trimmed, "the audit retention"}, Staff)
	AuditCountsF      = shared("counts of aggregated audit entries", "{audit}:n", "{audit}", Hash, TTL{Trimmed, "the audit retention"}, Staff)
	AuditSeqF         = shared("the audit id sequence", "{audit}:seq", "{audit}", String, TTL{Rule: None}, Nothing)
	AuditMinuteF      = shared("refused attempts of an action in a minute", "{audit}:m:*:*", "{audit}", String, TTL{Fixed, "2 minutes"}, Nothing)
	AuditNoneF        = shared("the audit script's unused key slot (never written)", "{audit}:none", "{audit}", String, TTL{Rule: None}, Nothing)
	LegacyAuditF      = shared("the audit stream of earlier versions (imported, then deleted)", "audit", "", Stream, TTL{Rule: None}, Staff)
)

// The outbox: a reply and a bulk stream and a delayed set a shard, read
// by every worker; a sent message's state and an entry's progress in the
// shard of their id. Broadcasts share the tag {o}; who a broadcast was
// queued for and reached, and its counts, are kept a shard each, next to
// the recipients.
var (
	ReplyStreamF = &Family{Name: "outbox replies (a shard's)", Pattern: "{#}:reply", Tag: shardTag, Sharding: Explicit, Type: Stream,
		TTL: TTL{Trimmed, "entries deleted once sent or buried"}, Holds: Contact, Erase: RemoveEntries}
	BulkStreamF = &Family{Name: "outbox notices and broadcasts (a shard's)", Pattern: "{#}:bulk", Tag: shardTag, Sharding: Explicit, Type: Stream,
		TTL: TTL{Trimmed, "entries deleted once sent or buried"}, Holds: Contact, Erase: RemoveEntries}
	DelayedF = &Family{Name: "outbox entries waiting for a retry (a shard's)", Pattern: "{#}:delayed", Tag: shardTag, Sharding: Explicit, Type: ZSet,
		TTL: TTL{Trimmed, "entries moved back when due"}, Holds: Contact, Erase: RemoveEntries}
	DeadF = &Family{Name: "dead letters", Pattern: "{o}:dead", Tag: "{o}", Type: List,
		TTL: TTL{Trimmed, "letters older than the retention forgotten"}, Holds: Contact, Erase: RemoveEntries}
	DeliveryF = &Family{Name: "a sent message's delivery state", Pattern: "{#}:msg:*", Tag: idTag, Sharding: ByFirstPart, Type: Hash,
		TTL: TTL{Fixed, "30 days"}, Holds: Contact, Erase: RemoveEntries}
	SentPartsF = &Family{Name: "how many parts of an entry were sent", Pattern: "{#}:done:*", Tag: idTag, Sharding: ByFirstPart, Type: String,
		TTL: TTL{Fixed, "7 days"}, Holds: Nothing, Erase: NotPersonal}
	AttemptF = &Family{Name: "a part handed to a provider, outcome unknown", Pattern: "{#}:try:*", Tag: idTag, Sharding: ByFirstPart, Type: String,
		TTL: TTL{Fixed, "7 days"}, Holds: Nothing, Erase: NotPersonal}
	RateF         = shared("a rate shared by instances", "rate:{*}", "{<name>}", String, TTL{Fixed, "just past the time it holds"}, Nothing)
	RatePauseF    = shared("a provider's Retry-After", "rate:{*}:pause-until", "{<name>}", String, TTL{Fixed, "just past the time it holds"}, Nothing)
	BroadcastF    = shared("a broadcast (definition, status)", "{o}:bc:*", "{o}", Hash, TTL{Rule: None}, Nothing)
	BcCountsF     = &Family{Name: "a broadcast's counts (a shard's share)", Pattern: "{#}:bc:*:n", Tag: shardTag, Sharding: Explicit, Type: Hash, TTL: TTL{Rule: None}, Holds: Nothing, Erase: NotPersonal}
	BcLockF       = shared("a broadcast's fan-out under way", "{o}:bc:*:lock", "{o}", String, TTL{Fixed, "the lock period"}, Nothing)
	BcDueF        = shared("broadcasts to send, by time", "{o}:bc:due", "{o}", ZSet, TTL{Rule: None}, Nothing)
	BcAllF        = shared("every broadcast, by time", "{o}:bc:all", "{o}", ZSet, TTL{Rule: None}, Nothing)
	BcForgottenF  = shared("broadcasts whose recipients were forgotten", "{o}:bc:forgotten", "{o}", ZSet, TTL{Rule: None}, Nothing)
	BcIdempotentF = shared("a broadcast's idempotency key", "{o}:idem:*", "{o}", String, TTL{Fixed, "24 hours"}, Nothing)
	BcRecipientsF = &Family{Name: "who a broadcast was queued for (a shard's)", Pattern: "{#}:bc:*:rcpt", Tag: shardTag, Sharding: Explicit, Type: Set,
		TTL: TTL{Trimmed, "deleted when the broadcast is forgotten (retention)"}, Holds: Contact, Erase: RemoveMember}
	BcToldF = &Family{Name: "who a broadcast reached (a shard's)", Pattern: "{#}:bc:*:told", Tag: shardTag, Sharding: Explicit, Type: Set,
		TTL: TTL{Trimmed, "deleted when the broadcast is forgotten (retention)"}, Holds: Contact, Erase: RemoveMember}
	BcReachF = &Family{Name: "a broadcast audience counted once (a shard's)", Pattern: "{#}:bc:reach:*", Tag: shardTag, Sharding: Explicit, Type: Set,
		TTL: TTL{Fixed, "30 seconds"}, Holds: Contact, Erase: RemoveMember}
)

// registry is every family. A key that belongs to none fails the keyspace
// test: add its family here.
var registry = []*Family{
	ContactStateF, DialogF, SeenF, MinuteCountF, RequestsOfF,
	SimStateF, SimDialogF, SimSeenF, SimCountF,
	RequestF, RequestNotesF, RequestRepliesF, RequestAssigneeF, OpenRequestsF, ClosedRequestsF, UrgentRequestsF,
	SubscribersF, SitesF, ShardsF, LayoutF, DistributionsF, DistributionLockF, DistributionOnceF, KeyringF, DataKeyF,
	ContentDraftF, StatsDayF, CensusF,
	ContentCurrentF, ContentSeqF, ContentVersionsF, ContentVersionF, ContentAudioF, ContentAudiosF,
	APITokenF, APITokenNamesF, SessionF, PersonF, PeopleNamesF, InviteF, SignInAccountF, SignInAddressF,
	AuditTimesF, AuditEntriesF, AuditCountsF, AuditSeqF, AuditMinuteF, AuditNoneF, LegacyAuditF,
	ReplyStreamF, BulkStreamF, DelayedF, DeadF, DeliveryF, SentPartsF, AttemptF, RateF, RatePauseF,
	BroadcastF, BcCountsF, BcLockF, BcDueF, BcAllF, BcForgottenF, BcIdempotentF, BcRecipientsF, BcToldF, BcReachF,
}
