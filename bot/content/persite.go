package content

// VarSite is the saved answer that holds the person's chosen site.
const VarSite = "site"

// SiteMessageID returns the id of a per-site message's text for one site:
// "<id>_<site>" (health_where_oujda).
func SiteMessageID(id, site string) string {
	return id + "_" + site
}

// SiteMessage returns the message id a per-site message sends in lang for
// site: "<id>_<site>" when that message exists, else the generic id (a
// site added by staff, or one partners have not written for yet).
func (c *Content) SiteMessage(lang, id, site string) string {
	if site != "" && c.Has(lang, SiteMessageID(id, site)) {
		return SiteMessageID(id, site)
	}
	return id
}
