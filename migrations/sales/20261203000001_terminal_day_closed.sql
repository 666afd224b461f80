-- The last day a terminal's Z report closed, kept on the row every sale at the terminal
-- locks to take its number. A sale, return, void or held bill after the close meets it
-- under the same lock and is refused (409 day_closed), so nothing lands in a day whose
-- report is already final.
ALTER TABLE invoice_series ADD COLUMN closed_day DATE;
