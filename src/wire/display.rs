//! Human-readable renderings of decoded messages (for logs and `peerex decode`).

use std::fmt;

use super::message::Message;
use super::open::Open;
use super::update::Update;

impl fmt::Display for Open {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OPEN AS {} hold {}s id {}",
            self.asn(),
            self.hold_time,
            self.bgp_id
        )?;
        for c in &self.capabilities {
            write!(f, "\n  capability {c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Update {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fam) = self.end_of_rib() {
            return write!(f, "UPDATE End-of-RIB {fam}");
        }
        write!(f, "UPDATE {} octets", self.as_bytes().len())?;
        let a = self.attrs();
        if let Some(o) = a.origin() {
            write!(f, "\n  origin {o}")?;
        }
        if let Some(p) = a.as_path() {
            write!(f, "\n  as-path {}", p.to_owned())?;
        }
        if let Some(nh) = a.next_hop() {
            write!(f, "\n  next-hop {nh}")?;
        }
        if let Some(m) = a.med() {
            write!(f, "\n  med {m}")?;
        }
        if let Some(lp) = a.local_pref() {
            write!(f, "\n  local-pref {lp}")?;
        }
        if a.atomic_aggregate() {
            f.write_str("\n  atomic-aggregate")?;
        }
        if let Some(agg) = a.aggregator() {
            write!(f, "\n  aggregator {agg}")?;
        }
        let list = |f: &mut fmt::Formatter<'_>, name: &str, items: Vec<String>| {
            if items.is_empty() {
                Ok(())
            } else {
                write!(f, "\n  {name} {}", items.join(" "))
            }
        };
        list(
            f,
            "communities",
            a.communities().map(|c| c.to_string()).collect(),
        )?;
        list(
            f,
            "ext-communities",
            a.ext_communities().map(|c| c.to_string()).collect(),
        )?;
        list(
            f,
            "large-communities",
            a.large_communities().map(|c| c.to_string()).collect(),
        )?;
        if let Some(id) = a.originator_id() {
            write!(f, "\n  originator-id {id}")?;
        }
        list(
            f,
            "cluster-list",
            a.cluster_list().map(|c| c.to_string()).collect(),
        )?;
        if let Some(otc) = a.otc() {
            write!(f, "\n  otc {otc}")?;
        }
        for u in a.unknown() {
            write!(
                f,
                "\n  attribute {} ({} octets, passed on)",
                u.type_code,
                u.value.len()
            )?;
        }
        if let Some(m) = self.mp_reach() {
            write!(f, "\n  mp-reach {}", m.afi_safi())?;
            if let Some(nh) = m.next_hop() {
                write!(f, " next-hop {nh}")?;
            }
        }
        for n in self.announced() {
            write!(f, "\n  + {n}")?;
        }
        for n in self.withdrawals() {
            write!(f, "\n  - {n}")?;
        }
        for i in self.issues().iter() {
            write!(f, "\n  ! {i}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Open(o) => o.fmt(f),
            Message::Update(u) => u.fmt(f),
            Message::Notification(n) => write!(f, "NOTIFICATION {n}"),
            Message::Keepalive => f.write_str("KEEPALIVE"),
            Message::RouteRefresh(r) => write!(f, "ROUTE-REFRESH {r}"),
        }
    }
}
