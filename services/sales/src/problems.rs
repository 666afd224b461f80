//! Every problem code Sales answers with besides the platform's.

bazaar_platform::problem_codes! {
    /// Sales's refusals: each a stable code and the status it is answered with.
    pub enum Code {
        /// A price below the catalog's, which only a price setter's approval allows.
        PriceOverrideForbidden = (FORBIDDEN, "price_override_forbidden"),
        /// A discount beyond the seller's policy, which a manager's approval allows.
        DiscountBeyondPolicy = (FORBIDDEN, "discount_beyond_policy"),
        /// The invoice is voided already.
        AlreadyVoided = (CONFLICT, "already_voided"),
        /// The approver's own authority does not cover the exception.
        ApprovalInsufficient = (FORBIDDEN, "approval_insufficient"),
        /// At most 500 invoices a batch.
        BatchTooLarge = (UNPROCESSABLE_ENTITY, "batch_too_large"),
        /// The credit sale does not fit the customer's limit.
        CreditLimitExceeded = (CONFLICT, "credit_limit_exceeded"),
        /// Credit and points need the customer.
        CustomerRequired = (UNPROCESSABLE_ENTITY, "customer_required"),
        /// The terminal's day is closed.
        DayClosed = (CONFLICT, "day_closed"),
        /// A service the sale needs did not answer; retry or sell offline.
        DependencyUnavailable = (SERVICE_UNAVAILABLE, "dependency_unavailable"),
        /// A line returned twice.
        DuplicateLine = (UNPROCESSABLE_ENTITY, "duplicate_line"),
        /// Nothing to sync.
        EmptyBatch = (UNPROCESSABLE_ENTITY, "empty_batch"),
        /// An offline sale cannot be in the future.
        FutureDate = (UNPROCESSABLE_ENTITY, "future_date"),
        /// A day is closed once it has begun.
        FutureDay = (UNPROCESSABLE_ENTITY, "future_day"),
        /// The store's GSTIN is registered in another state.
        GstinStateMismatch = (UNPROCESSABLE_ENTITY, "gstin_state_mismatch"),
        /// Goods of the invoice were returned: return the rest instead.
        HasReturns = (CONFLICT, "has_returns"),
        /// Insufficient points.
        InsufficientPoints = (CONFLICT, "insufficient_points"),
        /// Insufficient stock.
        InsufficientStock = (CONFLICT, "insufficient_stock"),
        /// Cannot be negative.
        InvalidAmount = (UNPROCESSABLE_ENTITY, "invalid_amount"),
        /// The Approval-Token is not a valid token of a user of this tenant and store.
        InvalidApproval = (FORBIDDEN, "invalid_approval"),
        /// 1 to 4 capitals or digits.
        InvalidCode = (UNPROCESSABLE_ENTITY, "invalid_code"),
        /// From zero to the line's value.
        InvalidDiscount = (UNPROCESSABLE_ENTITY, "invalid_discount"),
        /// 1 to 16 letters, digits, - or /.
        InvalidNumber = (UNPROCESSABLE_ENTITY, "invalid_number"),
        /// From `from`, at most a year.
        InvalidRange = (UNPROCESSABLE_ENTITY, "invalid_range"),
        /// Owner, admin, store_manager or cashier.
        InvalidRole = (UNPROCESSABLE_ENTITY, "invalid_role"),
        /// 0 to 10000 basis points.
        InvalidShare = (UNPROCESSABLE_ENTITY, "invalid_share"),
        /// 1 to 4 capitals or digits.
        InvalidTerminal = (UNPROCESSABLE_ENTITY, "invalid_terminal"),
        /// 1 to 500 characters.
        InvalidText = (UNPROCESSABLE_ENTITY, "invalid_text"),
        /// Inventory answered the sale with an error.
        InventoryRefused = (BAD_GATEWAY, "inventory_refused"),
        /// The invoice id or number is taken by a different invoice.
        InvoiceConflict = (CONFLICT, "invoice_conflict"),
        /// The invoice is voided.
        InvoiceVoided = (CONFLICT, "invoice_voided"),
        /// Points are spent online only.
        LoyaltyOffline = (UNPROCESSABLE_ENTITY, "loyalty_offline"),
        /// The points' worth differs from the amount paid with them.
        LoyaltyValueMismatch = (UNPROCESSABLE_ENTITY, "loyalty_value_mismatch"),
        /// Cannot be negative.
        NegativePrice = (UNPROCESSABLE_ENTITY, "negative_price"),
        /// A bill is paid somehow.
        NoPayments = (UNPROCESSABLE_ENTITY, "no_payments"),
        /// The invoice was issued on an earlier day: return it instead.
        NotToday = (CONFLICT, "not_today"),
        /// Offline invoices are sent to /api/v1/pos/sync.
        OfflineInvoice = (UNPROCESSABLE_ENTITY, "offline_invoice"),
        /// An offline invoice carries its offline number and time.
        OfflineRequired = (UNPROCESSABLE_ENTITY, "offline_required"),
        /// Partners answered the sale with an error.
        PartnersRefused = (BAD_GATEWAY, "partners_refused"),
        /// The payments do not add up to the total.
        PaymentsDoNotMatchTotal = (UNPROCESSABLE_ENTITY, "payments_do_not_match_total"),
        /// The points to spend.
        PointsRequired = (UNPROCESSABLE_ENTITY, "points_required"),
        /// The product is no longer sold.
        ProductArchived = (CONFLICT, "product_archived"),
        /// One of product_id, sku or barcode.
        ProductRequired = (UNPROCESSABLE_ENTITY, "product_required"),
        /// The card slip or UPI reference.
        ReferenceRequired = (UNPROCESSABLE_ENTITY, "reference_required"),
        /// More returned than was sold and not returned before.
        ReturnAboveSold = (UNPROCESSABLE_ENTITY, "return_above_sold"),
        /// Another store uses this code.
        StoreCodeTaken = (CONFLICT, "store_code_taken"),
        /// The store's inventory location is unknown to inventory.
        StoreNotConfigured = (CONFLICT, "store_not_configured"),
        /// Only cash is tendered; a card, UPI, credit or points pay the amount.
        TenderedNotCash = (UNPROCESSABLE_ENTITY, "tendered_not_cash"),
        /// Less than the cash amount.
        TenderedShort = (UNPROCESSABLE_ENTITY, "tendered_short"),
        /// More payments than one bill takes.
        TooManyPayments = (UNPROCESSABLE_ENTITY, "too_many_payments"),
        /// No product has this barcode.
        UnknownBarcode = (NOT_FOUND, "unknown_barcode"),
        /// No such customer in the tenant.
        UnknownCustomer = (NOT_FOUND, "unknown_customer"),
        /// The invoice has no such line.
        UnknownLine = (UNPROCESSABLE_ENTITY, "unknown_line"),
        /// Not cash, card, upi, credit or loyalty.
        UnknownPaymentMode = (UNPROCESSABLE_ENTITY, "unknown_payment_mode"),
        /// No such product in the tenant.
        UnknownProduct = (NOT_FOUND, "unknown_product"),
        /// Cash, card, upi, credit or store_credit.
        UnknownRefundMode = (UNPROCESSABLE_ENTITY, "unknown_refund_mode"),
        /// The request is not a WebSocket handshake.
        WebsocketRequired = (BAD_REQUEST, "websocket_required"),
    }
}
