// Quarantined mail (bucket quarantine).

package bolt

import "helpdesk/store/model"

// AddQuarantine stores a quarantined record.
func (t *Tx) AddQuarantine(q *model.Quarantine) error {
	seq, err := t.b(bQuarantine).NextSequence()
	if err != nil {
		return err
	}
	q.ID = seq
	if q.Created.IsZero() {
		q.Created = t.Now()
	}
	return putJSON(t.b(bQuarantine), u64(seq), q)
}

// QuarantineRecord loads one record.
func (t *Tx) QuarantineRecord(id uint64) (*model.Quarantine, error) {
	var q model.Quarantine
	if err := t.getJSON(t.b(bQuarantine), u64(id), &q); err != nil {
		return nil, err
	}
	return &q, nil
}

// PutQuarantine stores a changed record.
func (t *Tx) PutQuarantine(q *model.Quarantine) error { return putJSON(t.b(bQuarantine), u64(q.ID), q) }

// Quarantined lists records, newest first.
func (t *Tx) Quarantined(limit int) ([]*model.Quarantine, error) {
	var out []*model.Quarantine
	c := t.b(bQuarantine).Cursor()
	for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
		var q model.Quarantine
		if err := unmarshal(v, &q); err != nil {
			return nil, err
		}
		out = append(out, &q)
	}
	return out, nil
}
