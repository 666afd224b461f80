//! Every problem code Partners answers with besides the platform's.

bazaar_platform::problem_codes! {
    /// Partners's refusals: each a stable code and the status it is answered with.
    pub enum Code {
        /// A customer's credit limit and payment terms are set by an owner, admin or accountant.
        CreditTermsReserved = (FORBIDDEN, "credit_terms_reserved"),
        /// A payment cannot be recorded before it is made.
        FutureDate = (UNPROCESSABLE_ENTITY, "future_date"),
        /// Another vendor has this GSTIN.
        GstinTaken = (CONFLICT, "gstin_taken"),
        /// Fewer points held than asked to spend.
        InsufficientPoints = (CONFLICT, "insufficient_points"),
        /// 9 to 18 digits.
        InvalidAccountNumber = (UNPROCESSABLE_ENTITY, "invalid_account_number"),
        /// Must be greater than zero.
        InvalidAmount = (UNPROCESSABLE_ENTITY, "invalid_amount"),
        /// Not an email address.
        InvalidEmail = (UNPROCESSABLE_ENTITY, "invalid_email"),
        /// 4 letters, 0, then 6 letters or digits.
        InvalidIfsc = (UNPROCESSABLE_ENTITY, "invalid_ifsc"),
        /// 0 to 365 days.
        InvalidPaymentTerms = (UNPROCESSABLE_ENTITY, "invalid_payment_terms"),
        /// Not a 10-digit mobile number or +<country code><number>.
        InvalidPhone = (UNPROCESSABLE_ENTITY, "invalid_phone"),
        /// 6 digits.
        InvalidPincode = (UNPROCESSABLE_ENTITY, "invalid_pincode"),
        /// Must be greater than zero.
        InvalidPoints = (UNPROCESSABLE_ENTITY, "invalid_points"),
        /// Both figures must be greater than zero.
        InvalidRule = (UNPROCESSABLE_ENTITY, "invalid_rule"),
        /// A text that is empty or longer than its field allows.
        InvalidText = (UNPROCESSABLE_ENTITY, "invalid_text"),
        /// Another customer has this phone number.
        PhoneTaken = (CONFLICT, "phone_taken"),
        /// A customer has a name.
        Required = (UNPROCESSABLE_ENTITY, "required"),
        /// The GSTIN is registered in another state than the one given.
        StateMismatch = (UNPROCESSABLE_ENTITY, "state_mismatch"),
        /// Cash, card, upi, bank_transfer or cheque.
        UnknownPaymentMode = (UNPROCESSABLE_ENTITY, "unknown_payment_mode"),
    }
}
