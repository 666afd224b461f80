//! Every problem code Catalog answers with besides the platform's.

bazaar_platform::problem_codes! {
    /// Catalog's refusals: each a stable code and the status it is answered with.
    pub enum Code {
        /// The CSV's header row does not name the import's columns.
        InvalidHeader = (UNPROCESSABLE_ENTITY, "invalid_header"),
        /// Some rows of an all-or-nothing import are bad; nothing was imported.
        ImportRejected = (UNPROCESSABLE_ENTITY, "import_rejected"),
        /// Every item number under the tenant's EAN prefix is used.
        BarcodeSeriesExhausted = (CONFLICT, "barcode_series_exhausted"),
        /// The barcode already identifies another product.
        BarcodeTaken = (CONFLICT, "barcode_taken"),
        /// A category of this name exists under the same parent.
        CategoryExists = (CONFLICT, "category_exists"),
        /// Another import created some of these SKUs meanwhile; retry the file.
        ConcurrentImport = (CONFLICT, "concurrent_import"),
        /// The file has a header but no rows.
        EmptyFile = (UNPROCESSABLE_ENTITY, "empty_file"),
        /// A cell that is not true or false.
        InvalidBoolean = (UNPROCESSABLE_ENTITY, "invalid_boolean"),
        /// Invalid price.
        InvalidPrice = (UNPROCESSABLE_ENTITY, "invalid_price"),
        /// A text that is empty, too long, or a category name holding \" / \".
        InvalidText = (UNPROCESSABLE_ENTITY, "invalid_text"),
        /// A variant cannot have variants; use the parent product.
        NestedVariant = (UNPROCESSABLE_ENTITY, "nested_variant"),
        /// The product is archived.
        ProductArchived = (CONFLICT, "product_archived"),
        /// This column needs a value.
        Required = (UNPROCESSABLE_ENTITY, "required"),
        /// Another product of the tenant has this SKU.
        SkuTaken = (CONFLICT, "sku_taken"),
        /// No such category in the tenant.
        UnknownCategory = (NOT_FOUND, "unknown_category"),
        /// No product to be a variant of.
        UnknownProduct = (NOT_FOUND, "unknown_product"),
        /// A variant needs attributes, such as its size.
        VariantWithoutAttributes = (UNPROCESSABLE_ENTITY, "variant_without_attributes"),
        /// Not a unit Bazaar knows.
        UnknownUnit = (UNPROCESSABLE_ENTITY, "unknown_unit"),
        /// Not a GST rate: 0, 5, 12, 18 or 28.
        InvalidGstRate = (UNPROCESSABLE_ENTITY, "invalid_gst_rate"),
        /// Not a cess rate (0 to 300 percent).
        InvalidCessRate = (UNPROCESSABLE_ENTITY, "invalid_cess_rate"),
        /// 1 to 64 letters, digits and - _ . /.
        InvalidSku = (UNPROCESSABLE_ENTITY, "invalid_sku"),
        /// 4, 6 or 8 digits.
        InvalidHsnCode = (UNPROCESSABLE_ENTITY, "invalid_hsn_code"),
        /// Prices cannot be negative.
        NegativePrice = (UNPROCESSABLE_ENTITY, "negative_price"),
        /// The selling price cannot exceed the MRP.
        PriceAboveMrp = (UNPROCESSABLE_ENTITY, "price_above_mrp"),
        /// An EAN-13 (13 digits) or UPC-A (12 digits) code.
        InvalidBarcode = (UNPROCESSABLE_ENTITY, "invalid_barcode"),
        /// The barcode's check digit does not match its other digits.
        InvalidBarcodeCheckDigit = (UNPROCESSABLE_ENTITY, "invalid_barcode_check_digit"),
    }
}
