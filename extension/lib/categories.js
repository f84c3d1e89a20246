// Plain names for rule categories, shared by the warning (content script) and the popup.
// A classic script: its top-level const is in the script scope both can read, and is not a
// property of the global object (which a page's named elements could stand in for).

/* exported flagpostCategoryName */
const flagpostCategoryName = (() => {
  const NAMES = {
    travel_resistance: 'Call to travel and join an armed group',
    mercenary: 'Mercenary recruitment',
    mercenary_ad: 'Mercenary recruitment',
    sabotage_for_pay: 'Sabotage for pay',
    foreign_fighter: 'Call to travel and fight abroad',
    jihadist_hijrah: 'Call to make hijrah',
    state_recruitment: 'Military recruitment',
    concealment: 'Concealment advice',
  };
  return (category) => {
    if (NAMES[category]) return NAMES[category];
    const words = String(category).replace(/_/g, ' ');
    return words.charAt(0).toUpperCase() + words.slice(1);
  };
})();
