//! Every problem code Finance answers with besides the platform's.

bazaar_platform::problem_codes! {
    /// Finance's refusals: each a stable code and the status it is answered with.
    pub enum Code {
        /// A journal entry whose debits and credits differ.
        UnbalancedEntry = (UNPROCESSABLE_ENTITY, "unbalanced_entry"),
        /// A journal line with both or neither of debit and credit.
        InvalidLine = (UNPROCESSABLE_ENTITY, "invalid_line"),
        /// An account code the tenant's chart does not hold.
        UnknownAccount = (UNPROCESSABLE_ENTITY, "unknown_account"),
        /// An account with this code exists.
        AccountExists = (CONFLICT, "account_exists"),
        /// The tenant issued invoices under several GSTINs: name one.
        GstinRequired = (UNPROCESSABLE_ENTITY, "gstin_required"),
        /// 4 to 6 digits.
        InvalidCode = (UNPROCESSABLE_ENTITY, "invalid_code"),
        /// Json or csv.
        InvalidFormat = (UNPROCESSABLE_ENTITY, "invalid_format"),
        /// Asset, liability, equity, income or expense.
        InvalidKind = (UNPROCESSABLE_ENTITY, "invalid_kind"),
        /// YYYY-MM.
        InvalidMonth = (UNPROCESSABLE_ENTITY, "invalid_month"),
        /// 1 to 120 characters.
        InvalidName = (UNPROCESSABLE_ENTITY, "invalid_name"),
        /// 1 to 500 characters.
        InvalidNarration = (UNPROCESSABLE_ENTITY, "invalid_narration"),
        /// From is after to.
        InvalidPeriod = (UNPROCESSABLE_ENTITY, "invalid_period"),
        /// Cannot be negative.
        InvalidThreshold = (UNPROCESSABLE_ENTITY, "invalid_threshold"),
        /// The month is closed to postings.
        PeriodClosed = (CONFLICT, "period_closed"),
        /// A store-scoped user asks for the whole tenant's books.
        ReachBeyondOwn = (FORBIDDEN, "reach_beyond_own"),
        /// The entry to reverse does not exist.
        UnknownEntry = (UNPROCESSABLE_ENTITY, "unknown_entry"),
    }
}
