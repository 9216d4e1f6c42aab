// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Simple forwards as map elements: a forward on ports with one backend, no
 * ACL and no 'from' needs no chain of its own. Its keys (those of the
 * dispatch maps, pfk_dispatch.c) give its ct mark in m_<map> and its DNAT
 * target in d4_<map> / d6_<map>; the shared chains s_<map> read them. The
 * same elements are rendered as text (pfk_render_table) and as the kernel's
 * bytes (pfk_nl.c), from one walk over the forward's keys.
 */
#include "pfk_int.h"
#include "../common/pf_util.h"

#include <arpa/inet.h>
#include <string.h>

/* Per key map (PFK_M_IN4 .. PFK_M_ANY): its mark map, then its DNAT map of
 * each family (-1: none), and which bit of a form says the element is there. */
static const int pfk_sets[PFK_M_ALL4][3] = {
	[PFK_M_IN4] = { PFK_SET_M_IN4, PFK_SET_D4_IN4, -1 },
	[PFK_M_IN6] = { PFK_SET_M_IN6, -1, PFK_SET_D6_IN6 },
	[PFK_M_IFC] = { PFK_SET_M_IFC, PFK_SET_D4_IFC, PFK_SET_D6_IFC },
	[PFK_M_ANY] = { PFK_SET_M_ANY, PFK_SET_D4_ANY, PFK_SET_D6_ANY },
};
static const uint8_t pfk_set_bit[3] = { PFK_FORM_SIMPLE, PFK_FORM_D4, PFK_FORM_D6 };

bool pfk_simple_ok(const struct pf_forward *f)
{
	return pf_forward_engine(f) == PF_ENGINE_KERNEL && !f->conf.trigger &&
	       f->conf.protos != PF_PROTO_ALL && f->nbe == 1 && !f->conf.from.n && !f->eff_allow.n &&
	       !f->eff_deny.n && !f->conf.masq.on && !pfk_persrc_on(f);
}

uint8_t pfk_simple_form(const struct pf_forward *f)
{
	uint32_t w[PF_BACKENDS_MAX];
	uint8_t form = PFK_FORM_SIMPLE;
	bool v6 = pfk_v6(&f->be[0].addr);

	/* No target of a family (backend down, or the other family): the
	 * shared chain drops, as a forward's own chain did. */
	if (!pfk_usable(f, w) || !w[0])
		return form;
	if (f->conf.lhost[0] && pfk_v6(&f->laddr) != v6)
		return form;
	return form | (v6 ? PFK_FORM_D6 : PFK_FORM_D4);
}

/* A 4-byte register holding n bytes of v (the rest zero). */
static uint8_t *pfk_reg(uint8_t *p, const void *v, size_t n)
{
	memset(p, 0, 4);
	memcpy(p, v, n);
	return p + (n + 3) / 4 * 4;
}

static uint8_t pfk_key(const struct pf_forward *f, unsigned kind, uint32_t proto,
		       uint16_t port, uint8_t *key)
{
	uint8_t *p = key, l4 = proto == PF_PROTO_TCP ? 6 : 17;
	uint16_t nport = htons(port);

	switch (kind) {
	case PFK_M_IN4:
		p = pfk_reg(p, &f->laddr.sin.sin_addr, 4);
		break;
	case PFK_M_IN6:
		memcpy(p, &f->laddr.sin6.sin6_addr, 16);
		p += 16;
		break;
	case PFK_M_IFC:
		memset(p, 0, 16);
		memcpy(p, f->conf.lif, strnlen(f->conf.lif, 15));
		p += 16;
		break;
	default:
		break;
	}
	p = pfk_reg(p, &l4, 1);
	p = pfk_reg(p, &nport, 2);
	return (uint8_t)(p - key);
}

static uint8_t pfk_target(const struct pf_forward *f, uint16_t lport, uint8_t *data)
{
	const struct pf_backend *be = &f->be[0];
	uint16_t nport = htons(pf_backend_port(f, be, lport));
	uint8_t *p = data;

	if (pfk_v6(&be->addr)) {
		memcpy(p, &be->addr.sin6.sin6_addr, 16);
		p += 16;
	} else {
		p = pfk_reg(p, &be->addr.sin.sin_addr, 4);
	}
	p = pfk_reg(p, &nport, 2);
	return (uint8_t)(p - data);
}

void pfk_simple_ops(struct pfk_ops *o, const struct pf_forward *f, uint8_t from, uint8_t to)
{
	/* The key map: in the form (both forms are the forward's). */
	unsigned kind = PFK_FORM_MAP_OF(to & PFK_FORM_SIMPLE ? to : from);
	uint32_t mark = PFK_MARK_OURS | f->id, p, proto;
	uint8_t fam;

	from = from & PFK_FORM_SIMPLE ? from & PFK_FORM_ELEMS : 0;
	to = to & PFK_FORM_SIMPLE ? to & PFK_FORM_ELEMS : 0;
	if (from == to)
		return;
	for (proto = PF_PROTO_TCP; proto <= PF_PROTO_UDP; proto <<= 1) {
		if (!(f->conf.protos & proto))
			continue;
		for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++) {
			struct pfk_op op = { 0 };

			op.klen = pfk_key(f, kind, proto, (uint16_t)p, op.key);
			for (fam = 0; fam < 3; fam++) {
				uint8_t bit = pfk_set_bit[fam];

				if (pfk_sets[kind][fam] < 0 || !((from ^ to) & bit))
					continue;
				op.set = (uint8_t)pfk_sets[kind][fam];
				op.del = !!(from & bit);
				if (fam == 0) {
					memcpy(op.data, &mark, 4);
					op.dlen = 4;
				} else {
					op.dlen = pfk_target(f, (uint16_t)p, op.data);
				}
				pfk_ops_add(o, &op);
			}
		}
	}
}

void pfk_key_text(struct pf_buf *b, const struct pf_forward *f, unsigned kind, uint32_t proto,
		  uint32_t port)
{
	const char *l4 = proto == PF_PROTO_TCP ? "tcp" : "udp";

	if (kind == PFK_M_IN4 || kind == PFK_M_IN6) {
		pfk_addr(b, &f->laddr);
		pfk_out(b, " . ");
	} else if (kind == PFK_M_IFC) {
		pfk_out(b, "\"%s\" . ", f->conf.lif);
	}
	pfk_out(b, "%s . %u", l4, port);
}

void pfk_simple_text(struct pf_buf *b, const struct pf_table *t, unsigned set)
{
	bool first = true;
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct pf_forward *f = t->fwd[i];
		unsigned kind = PFK_FORM_MAP_OF(pfk_form(f));
		uint32_t p, proto;
		uint8_t fam;

		if (!(pfk_form(f) & PFK_FORM_SIMPLE))
			continue;
		for (fam = 0; fam < 3 && pfk_sets[kind][fam] != (int)set; fam++)
			;
		if (fam == 3 || !(pfk_form(f) & pfk_set_bit[fam]))
			continue;
		for (proto = PF_PROTO_TCP; proto <= PF_PROTO_UDP; proto <<= 1) {
			if (!(f->conf.protos & proto))
				continue;
			for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++) {
				pfk_out(b, "%s", first ? "\t\telements = { " : ",\n\t\t\t");
				first = false;
				pfk_key_text(b, f, kind, proto, p);
				if (fam == 0) {
					pfk_out(b, " : 0x%x", PFK_MARK_OURS | f->id);
				} else {
					pfk_out(b, " : ");
					pfk_addr(b, &f->be[0].addr);
					pfk_out(b, " . %u",
						pf_backend_port(f, &f->be[0], (uint16_t)p));
				}
			}
		}
	}
	if (!first)
		pfk_out(b, " }\n");
}
