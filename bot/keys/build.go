package keys

// The builders of the keys, one a family (see families.go for what each
// holds, its tag and its expiry).

// ContactState is a contact's state hash.
func (s Space) ContactState(contact string) string { return s.Key(ContactStateF, contact) }

// Dialog is where a contact's conversation stands.
func (s Space) Dialog(contact string) string { return s.Key(DialogF, contact) }

// Seen is a contact's handled provider message ids.
func (s Space) Seen(contact string) string { return s.Key(SeenF, contact) }

// MinuteCount counts a contact's messages in one minute (Unix minutes).
func (s Space) MinuteCount(contact, minute string) string {
	return s.Key(MinuteCountF, contact, minute)
}

// RequestsOf is the set of a contact's request ids.
func (s Space) RequestsOf(contact string) string { return s.Key(RequestsOfF, contact) }

// Request is one request to talk to a person.
func (s Space) Request(id string) string { return s.Key(RequestF, id) }

// RequestNotes is what the person wrote after a request.
func (s Space) RequestNotes(id string) string { return s.Key(RequestNotesF, id) }

// RequestReplies is staff's replies to a request.
func (s Space) RequestReplies(id string) string { return s.Key(RequestRepliesF, id) }

// RequestAssignee is who of staff takes care of a request.
func (s Space) RequestAssignee(id string) string { return s.Key(RequestAssigneeF, id) }

// OpenRequests is shard i's open requests by time.
func (s Space) OpenRequests(i int) string { return s.KeyIn(OpenRequestsF, i) }

// UrgentRequests is shard i's open requests that are urgent.
func (s Space) UrgentRequests(i int) string { return s.KeyIn(UrgentRequestsF, i) }

// ClosedRequests is shard i's closed requests by time.
func (s Space) ClosedRequests(i int) string { return s.KeyIn(ClosedRequestsF, i) }

// Subscribers is the set of the contacts of shard i subscribed to a site.
func (s Space) Subscribers(site string, i int) string { return s.KeyIn(SubscribersF, i, site) }

// SubscribersOf is the share of a site's subscriber set that holds contact.
func (s Space) SubscribersOf(site, contact string) string {
	return s.Subscribers(site, s.ShardOf(contact))
}

// Sites is the list of sites staff stored.
func (s Space) Sites() string { return s.Key(SitesF) }

// Layout is the layout the keys were last migrated to (see Migrate).
func (s Space) Layout() string { return s.Key(LayoutF) }

// ShardCount is how many shards the data is spread over.
func (s Space) ShardCount() string { return s.Key(ShardsF) }

// Distributions is the hash of distributions.
func (s Space) Distributions() string { return s.Key(DistributionsF) }

// DistributionLock holds a distribution while one change of it runs.
func (s Space) DistributionLock(id string) string { return s.Key(DistributionLockF, id) }

// DistributionOnce remembers an idempotency key of a distribution's creation.
func (s Space) DistributionOnce(hash string) string { return s.Key(DistributionOnceF, hash) }

// Keyring is the sealed root key.
func (s Space) Keyring() string { return s.Key(KeyringF) }

// DataKey is the data key made when none is configured.
func (s Space) DataKey() string { return s.Key(DataKeyF) }

// ContentDraft is the console's content draft.
func (s Space) ContentDraft() string { return s.Key(ContentDraftF) }

// StatsDay is one day's counts (YYYY-MM-DD).
func (s Space) StatsDay(day string) string { return s.Key(StatsDayF, day) }

// Census is the people by site and language, as last counted.
func (s Space) Census() string { return s.Key(CensusF) }

// ContentCurrent is the number of the current content version.
func (s Space) ContentCurrent() string { return s.Key(ContentCurrentF) }

// ContentSeq is the content version sequence.
func (s Space) ContentSeq() string { return s.Key(ContentSeqF) }

// ContentVersions is the sorted set of the versions kept.
func (s Space) ContentVersions() string { return s.Key(ContentVersionsF) }

// ContentVersion is one content version.
func (s Space) ContentVersion(n string) string { return s.Key(ContentVersionF, n) }

// ContentAudio is one recording, by the SHA-256 of its bytes.
func (s Space) ContentAudio(sum string) string { return s.Key(ContentAudioF, sum) }

// ContentAudios is the sorted set of the recordings kept, scored by when
// each was first stored.
func (s Space) ContentAudios() string { return s.Key(ContentAudiosF) }

// ContentChanged is the pub/sub channel told of a new current version.
// It is a channel, not a key: on a Cluster PUBLISH reaches every node.
func (s Space) ContentChanged() string { return s.prefix + "{content}:changed" }

// APIToken is an API token, by the hex of its hash.
func (s Space) APIToken(hash string) string { return s.Key(APITokenF, hash) }

// APITokenNames maps token names to their hashes.
func (s Space) APITokenNames() string { return s.Key(APITokenNamesF) }

// Session is a console session, by the hash of its token.
func (s Space) Session(hash string) string { return s.Key(SessionF, hash) }

// Person is a console account (lower-case name).
func (s Space) Person(name string) string { return s.Key(PersonF, name) }

// PeopleNames is the set of console account names.
func (s Space) PeopleNames() string { return s.Key(PeopleNamesF) }

// Invite is a console invitation, by the hash of its token.
func (s Space) Invite(hash string) string { return s.Key(InviteF, hash) }

// SignInAccount counts an account's failed sign-ins (hash of the name).
func (s Space) SignInAccount(hash string) string { return s.Key(SignInAccountF, hash) }

// SignInAddress counts an address's failed sign-ins (hash of the address).
func (s Space) SignInAddress(hash string) string { return s.Key(SignInAddressF, hash) }

// AuditTimes is the audit ids by time.
func (s Space) AuditTimes() string { return s.Key(AuditTimesF) }

// AuditEntries is the audit entries by id.
func (s Space) AuditEntries() string { return s.Key(AuditEntriesF) }

// AuditCounts is the counts of aggregated audit entries.
func (s Space) AuditCounts() string { return s.Key(AuditCountsF) }

// AuditSeq is the audit id sequence.
func (s Space) AuditSeq() string { return s.Key(AuditSeqF) }

// AuditMinute counts the refused attempts of an action in a minute.
func (s Space) AuditMinute(action, minute string) string {
	return s.Key(AuditMinuteF, action, minute)
}

// AuditNone is the key slot the audit script is given for a plain entry;
// it is never written.
func (s Space) AuditNone() string { return s.Key(AuditNoneF) }

// LegacyAudit is the audit stream of earlier versions.
func (s Space) LegacyAudit() string { return s.Key(LegacyAuditF) }

// ReplyStream is shard i's outbox stream of replies.
func (s Space) ReplyStream(i int) string { return s.KeyIn(ReplyStreamF, i) }

// BulkStream is shard i's outbox stream of notices and broadcasts.
func (s Space) BulkStream(i int) string { return s.KeyIn(BulkStreamF, i) }

// Delayed is shard i's outbox entries waiting for a retry.
func (s Space) Delayed(i int) string { return s.KeyIn(DelayedF, i) }

// Dead is the dead letters.
func (s Space) Dead() string { return s.Key(DeadF) }

// Delivery is a sent message's delivery state, by provider id.
func (s Space) Delivery(providerID string) string { return s.Key(DeliveryF, providerID) }

// SentParts is how many parts of an outbox entry were sent.
func (s Space) SentParts(entryID string) string { return s.Key(SentPartsF, entryID) }

// Attempt is the part of an entry handed to a provider, outcome unknown.
func (s Space) Attempt(entryID string) string { return s.Key(AttemptF, entryID) }

// Rate is a rate shared by every instance.
func (s Space) Rate(name string) string { return s.Key(RateF, name) }

// RatePause is when a provider's Retry-After ends for a shared rate.
func (s Space) RatePause(name string) string { return s.Key(RatePauseF, name) }

// Broadcast is a broadcast's definition and status.
func (s Space) Broadcast(id string) string { return s.Key(BroadcastF, id) }

// BroadcastCounts is shard i's share of a broadcast's counts (they add up).
func (s Space) BroadcastCounts(id string, i int) string { return s.KeyIn(BcCountsF, i, id) }

// BroadcastLock holds a broadcast's fan-out.
func (s Space) BroadcastLock(id string) string { return s.Key(BcLockF, id) }

// BroadcastsDue is the broadcasts to send, by time.
func (s Space) BroadcastsDue() string { return s.Key(BcDueF) }

// Broadcasts is every broadcast, by creation time.
func (s Space) Broadcasts() string { return s.Key(BcAllF) }

// BroadcastsForgotten is the broadcasts whose recipients were forgotten.
func (s Space) BroadcastsForgotten() string { return s.Key(BcForgottenF) }

// BroadcastIdempotency remembers a broadcast's idempotency key (hex hash).
func (s Space) BroadcastIdempotency(hash string) string { return s.Key(BcIdempotentF, hash) }

// BroadcastRecipients is who of shard i a broadcast was queued for.
func (s Space) BroadcastRecipients(id string, i int) string { return s.KeyIn(BcRecipientsF, i, id) }

// BroadcastTold is who of shard i a broadcast reached.
func (s Space) BroadcastTold(id string, i int) string { return s.KeyIn(BcToldF, i, id) }

// BroadcastReach is shard i's share of a broadcast audience's union.
func (s Space) BroadcastReach(id string, i int) string { return s.KeyIn(BcReachF, i, id) }
